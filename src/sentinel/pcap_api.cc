#include "sentinel/pcap_api.h"

#include "core/shared_library.h"

namespace mitmscope {
namespace {

Result<PcapApi> load() {
  auto library = SharedLibrary::open("libpcap.so.0.8", "libpcap0.8", "reading packets (sentinel --pcap, --interface)");
  if (!library) return std::unexpected(library.error());
  PcapApi api;
  const auto bound = SharedLibrary::all_bound(
      {library->bind("pcap_open_offline", api.open_offline), library->bind("pcap_create", api.create),
       library->bind("pcap_close", api.close), library->bind("pcap_set_snaplen", api.set_snaplen),
       library->bind("pcap_set_promisc", api.set_promisc), library->bind("pcap_set_timeout", api.set_timeout),
       library->bind("pcap_set_immediate_mode", api.set_immediate_mode),
       library->bind("pcap_set_buffer_size", api.set_buffer_size), library->bind("pcap_activate", api.activate),
       library->bind("pcap_compile", api.compile), library->bind("pcap_setfilter", api.setfilter),
       library->bind("pcap_freecode", api.freecode), library->bind("pcap_setnonblock", api.setnonblock),
       library->bind("pcap_datalink", api.datalink), library->bind("pcap_next_ex", api.next_ex),
       library->bind("pcap_get_selectable_fd", api.get_selectable_fd), library->bind("pcap_geterr", api.geterr),
       library->bind("pcap_stats", api.stats)});
  if (!bound) return std::unexpected(bound.error());
  return api;
}

}  // namespace

Result<const PcapApi*> pcap_api() {
  static const Result<PcapApi> loaded = load();
  return address_of(loaded);
}

}  // namespace mitmscope
