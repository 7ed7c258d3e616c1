// libpcap's functions the sentinel's captures (sentinel/capture) call, loaded on first use through
// core/shared_library.h instead of linked: libpcap brings D-Bus and systemd's libraries into every process
// that links it, and only `sentinel --pcap` and `--interface` read packets. The types come from <pcap/pcap.h>
// of the libpcap the project is built with (Debian's libpcap0.8, soname libpcap.so.0.8).
#pragma once

#include <pcap/pcap.h>

#include "core/error.h"

namespace mitmscope {

struct PcapApi {
  decltype(&::pcap_open_offline) open_offline = nullptr;
  decltype(&::pcap_create) create = nullptr;
  decltype(&::pcap_close) close = nullptr;
  decltype(&::pcap_set_snaplen) set_snaplen = nullptr;
  decltype(&::pcap_set_promisc) set_promisc = nullptr;
  decltype(&::pcap_set_timeout) set_timeout = nullptr;
  decltype(&::pcap_set_immediate_mode) set_immediate_mode = nullptr;
  decltype(&::pcap_set_buffer_size) set_buffer_size = nullptr;
  decltype(&::pcap_activate) activate = nullptr;
  decltype(&::pcap_compile) compile = nullptr;
  decltype(&::pcap_setfilter) setfilter = nullptr;
  decltype(&::pcap_freecode) freecode = nullptr;
  decltype(&::pcap_setnonblock) setnonblock = nullptr;
  decltype(&::pcap_datalink) datalink = nullptr;
  decltype(&::pcap_next_ex) next_ex = nullptr;
  decltype(&::pcap_get_selectable_fd) get_selectable_fd = nullptr;
  decltype(&::pcap_geterr) geterr = nullptr;
  decltype(&::pcap_stats) stats = nullptr;
};

// The process's libpcap, loaded by the first call (thread-safe); every later call returns the same answer,
// a failure included.
Result<const PcapApi*> pcap_api();

}  // namespace mitmscope
