// For a test suite's throwaway server: the endpoint it prints on the one
// machine-readable line a harness reads (WHARF_ENDPOINT=...). With
// --ephemeral (Settings::ephemeral) its data lives in RocksDB's in-memory
// Env (storage/rocksdb/open.h, RocksOptions::in_memory).
#pragma once

#include <cstdint>
#include <string>

namespace wharf::server {

// The base URL a client on this machine reaches a server listening on
// `bind`:`port` at: loopback for a wildcard bind (0.0.0.0 or ::), the bind
// address otherwise, an IPv6 one in brackets. "http://127.0.0.1:9324".
std::string local_endpoint(const std::string& bind, uint16_t port);

}  // namespace wharf::server
