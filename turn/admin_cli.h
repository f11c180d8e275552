/* iceway-relay admin ...: the command-line client of the relay's admin API. */
#ifndef IW_TURN_ADMIN_CLI_H
#define IW_TURN_ADMIN_CLI_H

/* argv[0] is "admin". Returns the exit status (common/admin_client.h: IW_ADMIN_EXIT_*). */
int iw_admin_cli_main(int argc, char **argv);

#endif
