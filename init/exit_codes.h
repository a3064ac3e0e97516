/*
 * The init's exit statuses, in one place (README "Exit statuses"). sysexits.h
 * numbers where one fits; 126/127 as a shell reports a command that cannot be
 * run (POSIX 2.8.2).
 */
#ifndef K3S_INIT_EXIT_CODES_H
#define K3S_INIT_EXIT_CODES_H

#define EXIT_USAGE 64      /* bad K3S_INIT_* value or bad arguments (EX_USAGE) */
#define EXIT_REPAIR 71     /* a repair the role cannot start without failed (EX_OSERR) */
#define EXIT_NOEXEC 126    /* the program is not executable */
#define EXIT_NOTFOUND 127  /* the program is not found */

#endif
