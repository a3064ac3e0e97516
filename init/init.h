#ifndef K3S_INIT_INIT_H
#define K3S_INIT_INIT_H
/* The init's entry point: probe, plan, repair, then exec k3s (or supervise). */
int init_main(int argc, char **argv);
#endif
