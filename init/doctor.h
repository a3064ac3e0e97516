/* k3s-init doctor: probe and plan, printed one fact per line; changes nothing. */
#ifndef K3S_INIT_DOCTOR_H
#define K3S_INIT_DOCTOR_H

#include "repair.h"

/* 0 when k3s can be expected to start, 1 otherwise (reasons printed). */
int doctor_run(struct ctx *c);

#endif
