#ifndef K3S_INIT_CNI_ROUTED_VETH_H
#define K3S_INIT_CNI_ROUTED_VETH_H
/* The CNI main plugin, entered when the binary runs as "routed-veth". */
int routed_veth_main(int argc, char **argv);
#endif
