#ifndef K3S_INIT_RUNC_FRONT_H
#define K3S_INIT_RUNC_FRONT_H
/* Entered when the binary runs as "runc" (see runc_front.c). */
int runc_front_main(int argc, char **argv);
#endif
