#ifndef JOURNEYD_CSYSTEMD_SHIM_H
#define JOURNEYD_CSYSTEMD_SHIM_H
// libsystemd: the service manager protocol (sd_notify, sd_listen_fds_with_names, sd_watchdog_enabled),
// the journal's native protocol (sd_journal_sendv) and the machine's app-specific id (the default key of
// hashed user ids in logs). Variadic functions are not callable from Swift.
#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>
#include <systemd/sd-journal.h>
#include <sys/uio.h>
#endif
