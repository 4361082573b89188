// `wharf health [--host H] [--port N]`: asks a running Wharf for GET /health
// (default 127.0.0.1, port $WHARF_PORT or 9324).
// Exit 0 when it answers 200, 1 otherwise (no answer, timeout, other status,
// bad usage: Docker reserves exit code 2 in health checks). Meant for container health checks, so it needs nothing but
// the binary: no curl, no shell, no name resolution (numeric addresses and
// "localhost" only, since a static binary in an empty image has no NSS).
#pragma once

namespace wharf::server {

// argv[0] is "health"; the options follow.
int health_command(int argc, char** argv);

}  // namespace wharf::server
