/* iceway-signal admin ...: the command-line client of the signaling admin API. */
#ifndef IW_SIGNALING_ADMIN_CLI_H
#define IW_SIGNALING_ADMIN_CLI_H

/* argv[0] is "admin". Returns the exit status (common/admin_client.h: IW_ADMIN_EXIT_*). */
int iw_signal_admin_cli_main(int argc, char **argv);

#endif
