#ifndef K3S_INIT_CNI_HOST_LOCAL_H
#define K3S_INIT_CNI_HOST_LOCAL_H
/* The CNI IPAM plugin, entered when the binary runs as "host-local". */
int host_local_main(int argc, char **argv);
#endif
