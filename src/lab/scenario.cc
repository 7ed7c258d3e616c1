#include "lab/scenario.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/embedded_files.h"
#include "x509/certificate_reader.h"

namespace mitmscope::lab {
namespace {

using Json = nlohmann::json;

// The lab's hosts live in 198.18.0.0/15, the range RFC 2544 reserves for benchmarks:
// nothing real answers there, and mitmscope refuses it without --allow-private.
constexpr uint32_t kHostSpace = (198u << 24) | (18u << 16);
constexpr uint32_t kHostSpaceBlocks = 512;  // /24 blocks in the /15
constexpr uint32_t kHostsPerBlock = 250;

class Reader {
 public:
  Reader(std::string_view source) : source_(source) {}
  Error error(std::string_view field, std::string_view why) const {
    return {ErrorCode::kParseError, fmt::format("{}: field '{}': {}", source_, field, why)};
  }
  template <typename T>
  Result<T> get(const Json& object, const std::string& field, std::string_view path, std::optional<T> fallback = {}) const {
    auto it = object.find(field);
    const std::string name = path.empty() ? field : fmt::format("{}.{}", path, field);
    if (it == object.end() || it->is_null()) {
      if (fallback) return *fallback;
      return std::unexpected(error(name, "missing"));
    }
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      // Whole numbers only, within the field's type: nlohmann would convert 2e38 or 3.7 with undefined behaviour.
      if (!it->is_number_integer()) return std::unexpected(error(name, fmt::format("not a whole number ({})", it->dump())));
      const bool fits = it->is_number_unsigned()
                            ? it->template get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
                            : std::cmp_greater_equal(it->template get<int64_t>(), std::numeric_limits<T>::min()) &&
                                  std::cmp_less_equal(it->template get<int64_t>(), std::numeric_limits<T>::max());
      if (!fits) return std::unexpected(error(name, fmt::format("{} is out of range", it->dump())));
    }
    try {
      return it->get<T>();
    } catch (const Json::exception&) {
      return std::unexpected(error(name, fmt::format("wrong type ({})", it->type_name())));
    }
  }

  // A member that must be an object (or an array): missing or null gives an empty one, another type an error.
  // nlohmann's value() and operator[] throw on the wrong type, which a scenario file must never make them do.
  Result<Json> object(const Json& parent, const std::string& field, std::string_view path) const {
    return member(parent, field, path, Json::object(), Json::value_t::object);
  }
  Result<Json> array(const Json& parent, const std::string& field, std::string_view path) const {
    return member(parent, field, path, Json::array(), Json::value_t::array);
  }

 private:
  Result<Json> member(const Json& parent, const std::string& field, std::string_view path, Json empty, Json::value_t type) const {
    const std::string name = path.empty() ? field : fmt::format("{}.{}", path, field);
    if (!parent.is_object()) return std::unexpected(error(path.empty() ? "(document)" : std::string(path), fmt::format("not an object ({})", parent.type_name())));
    const auto it = parent.find(field);
    if (it == parent.end() || it->is_null()) return empty;
    if (it->type() != type) return std::unexpected(error(name, fmt::format("not an {} ({})", empty.type_name(), it->type_name())));
    return *it;
  }
  std::string source_;
};

Result<PathKind> parse_path(const std::string& text, const Reader& reader, const std::string& field) {
  if (text == "interceptor") return PathKind::kInterceptor;
  if (text == "bypass") return PathKind::kBypass;
  if (text == "evening") return PathKind::kEvening;
  return std::unexpected(reader.error(field, fmt::format("'{}' is not one of interceptor, bypass, evening", text)));
}

Result<bool> parse_on_off(const std::string& text, const Reader& reader, const std::string& field) {
  if (text == "on") return true;
  if (text == "off") return false;
  return std::unexpected(reader.error(field, fmt::format("'{}' is neither on nor off", text)));
}

Result<bool> parse_evening(const std::string& text, const Reader& reader, const std::string& field) {
  if (text == "interceptor") return true;
  if (text == "bypass") return false;
  return std::unexpected(reader.error(field, fmt::format("'{}' is neither interceptor nor bypass", text)));
}

#define MITMSCOPE_TRY(variable, expression) \
  auto variable = (expression);             \
  if (!variable) return std::unexpected(variable.error())

Result<ScheduleEvent> parse_event(const Json& item, const Reader& reader, const std::string& path) {
  ScheduleEvent event;
  MITMSCOPE_TRY(at, reader.get<long>(item, "at_seconds", path));
  if (*at < 0) return std::unexpected(reader.error(path + ".at_seconds", "negative"));
  event.at_seconds = *at;
  if (item.contains("interceptor")) {
    MITMSCOPE_TRY(text, reader.get<std::string>(item, "interceptor", path));
    MITMSCOPE_TRY(on, parse_on_off(*text, reader, path + ".interceptor"));
    event.interceptor_on = *on;
  }
  if (item.contains("evening")) {
    MITMSCOPE_TRY(text, reader.get<std::string>(item, "evening", path));
    MITMSCOPE_TRY(through, parse_evening(*text, reader, path + ".evening"));
    event.evening_through_interceptor = *through;
  }
  if (item.contains("validity_shift_hours")) {
    MITMSCOPE_TRY(shift, reader.get<int>(item, "validity_shift_hours", path));
    event.validity_shift_hours = *shift;
  }
  if (item.contains("key_bits")) {
    MITMSCOPE_TRY(bits, reader.get<int>(item, "key_bits", path));
    event.key_bits = *bits;
  }
  if (item.contains("intermediate")) {
    MITMSCOPE_TRY(index, reader.get<size_t>(item, "intermediate", path));
    event.intermediate = *index;
  }
  return event;
}

Result<IssuerSpec> parse_issuer(const Json& issuer, const Reader& reader) {
  IssuerSpec spec;
  if (issuer.empty()) return spec;
  MITMSCOPE_TRY(root_object, reader.object(issuer, "root", "issuer"));
  const Json& root = *root_object;
  if (root.contains("subject")) {
    MITMSCOPE_TRY(text, reader.get<std::string>(root, "subject", "issuer.root"));
    MITMSCOPE_TRY(subject, parse_subject(*text));
    spec.root_subject = *subject;
  }
  MITMSCOPE_TRY(bits, reader.get<int>(root, "bits", "issuer.root", spec.root_bits));
  MITMSCOPE_TRY(years, reader.get<int>(root, "years", "issuer.root", spec.root_years));
  MITMSCOPE_TRY(from_days, reader.get<int>(root, "from_days", "issuer.root", spec.root_from_days));
  if (*bits < 1024 || *bits > 8192) return std::unexpected(reader.error("issuer.root.bits", "must be 1024 to 8192"));
  spec.root_bits = *bits;
  spec.root_years = *years;
  spec.root_from_days = *from_days;
  if (issuer.contains("intermediates")) {
    const Json list = issuer["intermediates"];
    if (!list.is_array() || list.empty()) return std::unexpected(reader.error("issuer.intermediates", "must be a non-empty list"));
    spec.intermediates.clear();
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string path = fmt::format("issuer.intermediates[{}]", i);
      MITMSCOPE_TRY(text, reader.get<std::string>(list[i], "subject", path));
      MITMSCOPE_TRY(subject, parse_subject(*text));
      MITMSCOPE_TRY(from, reader.get<int>(list[i], "from_days", path));
      MITMSCOPE_TRY(days, reader.get<int>(list[i], "days", path));
      if (*days < 1) return std::unexpected(reader.error(path + ".days", "must be at least 1"));
      spec.intermediates.push_back({*subject, *from, *days});
    }
  }
  MITMSCOPE_TRY(initial, reader.get<size_t>(issuer, "initial", "issuer", size_t{0}));
  if (*initial >= spec.intermediates.size()) return std::unexpected(reader.error("issuer.initial", "no such intermediate"));
  spec.initial_intermediate = *initial;
  return spec;
}

}  // namespace

Result<Subject> parse_subject(std::string_view text) {
  Subject subject;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(", ", start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view part = text.substr(start, end - start);
    const size_t equals = part.find('=');
    if (equals == std::string_view::npos || equals == 0 || equals + 1 == part.size()) {
      return make_error(ErrorCode::kParseError, fmt::format("subject '{}': '{}' is not FIELD=value", text, part));
    }
    subject.emplace_back(std::string(part.substr(0, equals)), std::string(part.substr(equals + 1)));
    start = end + 2;
  }
  if (subject.empty()) return make_error(ErrorCode::kParseError, "empty subject");
  return subject;
}

std::string ipv4_to_string(uint32_t address) {
  return fmt::format("{}.{}.{}.{}", address >> 24, (address >> 16) & 0xff, (address >> 8) & 0xff, address & 0xff);
}

std::string_view path_kind_name(PathKind path) {
  switch (path) {
    case PathKind::kInterceptor: return "interceptor";
    case PathKind::kBypass: return "bypass";
    case PathKind::kEvening: return "evening";
  }
  return "unknown";
}

// The device's product and the names around it: interceptor.product, untargeted_domains,
// resolver.unresolved_domains (each of them a targeted or untargeted name).
Result<void> parse_device(const Json& document, const Reader& reader, Scenario& scenario) {
  MITMSCOPE_TRY(interceptor_object, reader.object(document, "interceptor", ""));
  const Json& interceptor = *interceptor_object;
  MITMSCOPE_TRY(product_text, reader.get<std::string>(interceptor, "product", "interceptor", std::string("lab")));
  const auto product = parse_product(*product_text);
  if (!product) {
    std::string names;
    for (const auto& name : product_names()) names += (names.empty() ? "" : ", ") + name;
    return std::unexpected(reader.error("interceptor.product", fmt::format("'{}' is not one of {}", *product_text, names)));
  }
  scenario.product = *product;
  if (scenario.product != Product::kLabDevice) scenario.mode = InterceptorMode::kTerminatingProxy;
  MITMSCOPE_TRY(untargeted, reader.get<std::vector<std::string>>(document, "untargeted_domains", "", std::vector<std::string>{}));
  scenario.untargeted_domains = *untargeted;
  MITMSCOPE_TRY(resolver_object, reader.object(document, "resolver", ""));
  const Json& resolver = *resolver_object;
  MITMSCOPE_TRY(unresolved, reader.get<std::vector<std::string>>(resolver, "unresolved_domains", "resolver",
                                                                   std::vector<std::string>{}));
  const auto listed = [&](const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  for (size_t i = 0; i < unresolved->size(); ++i) {
    if (!listed(scenario.targeted_domains, (*unresolved)[i]) && !listed(scenario.untargeted_domains, (*unresolved)[i])) {
      return std::unexpected(reader.error(fmt::format("resolver.unresolved_domains[{}]", i),
                                          fmt::format("'{}' is neither a targeted nor an untargeted domain", (*unresolved)[i])));
    }
  }
  scenario.unresolved_domains = *unresolved;
  return {};
}

Result<Scenario> parse_scenario(std::string_view json_text, std::string_view source) {
  const Reader reader(source);
  Json document;
  try {
    document = Json::parse(json_text);
  } catch (const Json::exception& error) {   // a syntax error, or a number beyond a double (out_of_range, 406)
    return make_error(ErrorCode::kParseError, fmt::format("{}: not valid JSON: {}", source, printable(error.what(), 300)));
  }
  if (!document.is_object()) return std::unexpected(reader.error("(top level)", "not an object"));
  Scenario scenario;
  MITMSCOPE_TRY(name, reader.get<std::string>(document, "name", ""));
  scenario.name = *name;
  MITMSCOPE_TRY(description, reader.get<std::string>(document, "description", "", std::string()));
  scenario.description = *description;
  MITMSCOPE_TRY(routers, reader.get<int>(document, "routers", "", 6));
  if (*routers < 2 || *routers > 30) return std::unexpected(reader.error("routers", "must be 2 to 30"));
  scenario.routers = *routers;

  MITMSCOPE_TRY(interceptor_object, reader.object(document, "interceptor", ""));
  const Json& interceptor = *interceptor_object;
  MITMSCOPE_TRY(router, reader.get<int>(interceptor, "router", "interceptor", 4));
  if (*router < 2 || *router >= scenario.routers) {
    return std::unexpected(reader.error("interceptor.router", fmt::format("must be 2 to {} (a router with one on each side)", scenario.routers - 1)));
  }
  scenario.interceptor_router = *router;
  MITMSCOPE_TRY(mode, reader.get<std::string>(interceptor, "mode", "interceptor", std::string("in-path")));
  if (*mode == "in-path") {
    scenario.mode = InterceptorMode::kInPath;
  } else if (*mode == "terminating-proxy") {
    scenario.mode = InterceptorMode::kTerminatingProxy;
  } else {
    return std::unexpected(reader.error("interceptor.mode", fmt::format("'{}' is neither in-path nor terminating-proxy", *mode)));
  }

  MITMSCOPE_TRY(forging_object, reader.object(document, "forging", ""));
  const Json& forging = *forging_object;
  MITMSCOPE_TRY(shift, reader.get<int>(forging, "validity_shift_hours", "forging", -6));
  MITMSCOPE_TRY(key_bits, reader.get<int>(forging, "key_bits", "forging", 2048));
  MITMSCOPE_TRY(exponent, reader.get<unsigned long>(forging, "key_exponent", "forging", 3ul));
  MITMSCOPE_TRY(serial_bits, reader.get<int>(forging, "serial_random_bits", "forging", 33));
  if (*key_bits < 512 || *key_bits > 8192) return std::unexpected(reader.error("forging.key_bits", "must be 512 to 8192"));
  if (*serial_bits < 0 || *serial_bits > 159) return std::unexpected(reader.error("forging.serial_random_bits", "must be 0 to 159"));
  if (*exponent < 3 || *exponent % 2 == 0) return std::unexpected(reader.error("forging.key_exponent", "must be odd and at least 3"));
  scenario.forging = {.validity_shift_hours = *shift, .key_bits = *key_bits, .key_exponent = *exponent,
                      .serial_random_bits = *serial_bits};
  MITMSCOPE_TRY(issuer_object, reader.object(document, "issuer", ""));
  MITMSCOPE_TRY(issuer, parse_issuer(*issuer_object, reader));
  scenario.issuer = *issuer;

  MITMSCOPE_TRY(domains, reader.get<std::vector<std::string>>(document, "targeted_domains", ""));
  if (domains->empty()) return std::unexpected(reader.error("targeted_domains", "empty"));
  scenario.targeted_domains = *domains;
  MITMSCOPE_TRY(device, parse_device(document, reader, scenario));

  MITMSCOPE_TRY(ases_array, reader.array(document, "ases", ""));
  const Json& ases = *ases_array;
  if (ases.empty()) return std::unexpected(reader.error("ases", "missing or empty"));
  for (size_t i = 0; i < ases.size(); ++i) {
    const std::string path = fmt::format("ases[{}]", i);
    AsSpec as;
    MITMSCOPE_TRY(asn, reader.get<uint32_t>(ases[i], "asn", path));
    MITMSCOPE_TRY(as_name, reader.get<std::string>(ases[i], "name", path, std::string()));
    as.asn = *asn;
    as.name = *as_name;
    MITMSCOPE_TRY(prefixes_array, reader.array(ases[i], "prefixes", path));
    const Json& prefixes = *prefixes_array;
    if (prefixes.empty()) return std::unexpected(reader.error(path + ".prefixes", "missing or empty"));
    for (size_t j = 0; j < prefixes.size(); ++j) {
      const std::string prefix_path = fmt::format("{}.prefixes[{}]", path, j);
      MITMSCOPE_TRY(hosts, reader.get<size_t>(prefixes[j], "hosts", prefix_path));
      MITMSCOPE_TRY(kind_text, reader.get<std::string>(prefixes[j], "path", prefix_path));
      MITMSCOPE_TRY(kind, parse_path(*kind_text, reader, prefix_path + ".path"));
      if (*hosts == 0) return std::unexpected(reader.error(prefix_path + ".hosts", "must be at least 1"));
      as.prefixes.push_back({*hosts, *kind});
    }
    scenario.ases.push_back(std::move(as));
  }
  for (const auto& as : scenario.ases) {
    for (const auto& prefix : as.prefixes) scenario.hosts_total += prefix.hosts;
  }
  MITMSCOPE_TRY(default_size, reader.get<size_t>(document, "default_size", "", scenario.hosts_total));
  scenario.default_size = std::min(*default_size, scenario.hosts_total);
  MITMSCOPE_TRY(untrusted_every, reader.get<size_t>(document, "untrusted_hosts_every", "", size_t{0}));
  scenario.untrusted_hosts_every = *untrusted_every;

  MITMSCOPE_TRY(schedule_object, reader.object(document, "schedule", ""));
  const Json& schedule = *schedule_object;
  MITMSCOPE_TRY(initial_object, reader.object(schedule, "initial", "schedule"));
  const Json& initial = *initial_object;
  MITMSCOPE_TRY(initial_state, reader.get<std::string>(initial, "interceptor", "schedule.initial", std::string("on")));
  MITMSCOPE_TRY(initial_on, parse_on_off(*initial_state, reader, "schedule.initial.interceptor"));
  scenario.schedule.interceptor_on = *initial_on;
  MITMSCOPE_TRY(initial_evening, reader.get<std::string>(initial, "evening", "schedule.initial", std::string("bypass")));
  MITMSCOPE_TRY(evening_through, parse_evening(*initial_evening, reader, "schedule.initial.evening"));
  scenario.schedule.evening_through_interceptor = *evening_through;
  MITMSCOPE_TRY(repeat, reader.get<long>(schedule, "repeat_every_seconds", "schedule", 0L));
  scenario.schedule.repeat_every_seconds = *repeat;
  MITMSCOPE_TRY(events_array, reader.array(schedule, "events", "schedule"));
  const Json& events = *events_array;
  for (size_t i = 0; i < events.size(); ++i) {
    MITMSCOPE_TRY(event, parse_event(events[i], reader, fmt::format("schedule.events[{}]", i)));
    if (*repeat > 0 && event->at_seconds >= *repeat) {
      return std::unexpected(reader.error(fmt::format("schedule.events[{}].at_seconds", i), "not below repeat_every_seconds"));
    }
    if (event->intermediate && *event->intermediate >= scenario.issuer.intermediates.size()) {
      return std::unexpected(reader.error(fmt::format("schedule.events[{}].intermediate", i), "no such intermediate"));
    }
    scenario.schedule.events.push_back(*event);
  }
  std::stable_sort(scenario.schedule.events.begin(), scenario.schedule.events.end(),
                   [](const auto& a, const auto& b) { return a.at_seconds < b.at_seconds; });
  return scenario;
}

std::vector<std::string> shipped_scenarios() {
  std::vector<std::string> names;
  for (const auto& file : embedded_scenario_files()) {
    names.emplace_back(file.name.substr(0, file.name.size() - 5));  // without ".json"
  }
  return names;
}

Result<Scenario> load_scenario(std::string_view name_or_path) {
  for (const auto& file : embedded_scenario_files()) {
    if (file.name == std::string(name_or_path) + ".json") return parse_scenario(file.content, file.name);
  }
  auto bytes = read_file_bytes(std::filesystem::path(name_or_path), 16u << 20);
  if (!bytes) {
    if (bytes.error().code == ErrorCode::kFileNotFound) {
      std::string known;
      for (const auto& name : shipped_scenarios()) known += (known.empty() ? "" : ", ") + name;
      return make_error(ErrorCode::kFileNotFound,
                        fmt::format("scenario '{}': neither a shipped scenario ({}) nor a file", name_or_path, known));
    }
    return std::unexpected(bytes.error());
  }
  return parse_scenario(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()),
                        std::string(name_or_path));
}

Result<Plan> plan_scenario(const Scenario& scenario, size_t size) {
  if (size == 0) size = scenario.default_size;
  if (size > scenario.hosts_total) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("size {} is above the scenario's {} hosts", size, scenario.hosts_total));
  }
  const double scale = static_cast<double>(size) / static_cast<double>(scenario.hosts_total);
  Plan plan;
  uint32_t next_block = 0;
  for (const auto& as : scenario.ases) {
    for (const auto& prefix : as.prefixes) {
      const size_t hosts = std::max<size_t>(1, static_cast<size_t>(std::llround(static_cast<double>(prefix.hosts) * scale)));
      uint32_t blocks = 1;
      while (blocks * kHostsPerBlock < hosts) blocks *= 2;
      next_block = (next_block + blocks - 1) / blocks * blocks;  // aligned, so the prefix is one route
      if (next_block + blocks > kHostSpaceBlocks) {
        return make_error(ErrorCode::kInvalidArgument, "the scenario does not fit in 198.18.0.0/15");
      }
      PlannedPrefix planned;
      planned.asn = as.asn;
      planned.as_name = as.name;
      planned.network = kHostSpace + (next_block << 8);
      planned.length = 24 - static_cast<int>(std::log2(blocks));
      planned.cidr = fmt::format("{}/{}", ipv4_to_string(planned.network), planned.length);
      planned.path = prefix.path;
      for (size_t i = 0; i < hosts; ++i) {
        const uint32_t address = planned.network + static_cast<uint32_t>((i / kHostsPerBlock) << 8) +
                                 static_cast<uint32_t>(i % kHostsPerBlock) + 1;
        planned.hosts.push_back(address);
        const size_t index = plan.host_count + i + 1;
        if (scenario.untrusted_hosts_every > 0 && index % scenario.untrusted_hosts_every == 0) {
          plan.untrusted_hosts.insert(address);
        }
      }
      plan.host_count += hosts;
      plan.prefixes.push_back(std::move(planned));
      next_block += blocks;
    }
  }
  return plan;
}

}  // namespace mitmscope::lab
