#include "lab/command.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace mitmscope::lab {

bool running_as_root() { return ::geteuid() == 0; }

Result<int> spawn_process(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  auto child = spawn({.argv = argv, .log = log, .parent_death_signal = SIGTERM});
  if (!child) return std::unexpected(child.error());
  return child->pid;
}

Result<void> ip_batch(const std::vector<std::string>& lines) {
  // `ip -batch` takes no per-line -n, so lines are grouped: the root namespace's first
  // (namespaces, veth pairs), then one `ip -n NS -batch -` per namespace, in order.
  std::vector<std::pair<std::string, std::string>> groups = {{"", ""}};
  for (const auto& line : lines) {
    std::string ns;
    std::string command = line;
    if (line.starts_with("-n ")) {
      const size_t end = line.find(' ', 3);
      ns = line.substr(3, end - 3);
      command = line.substr(end + 1);
    }
    auto group = std::find_if(groups.begin(), groups.end(), [&](const auto& entry) { return entry.first == ns; });
    if (group == groups.end()) group = groups.insert(groups.end(), {ns, ""});
    group->second += command + "\n";
  }
  for (const auto& [ns, input] : groups) {
    if (input.empty()) continue;
    auto result = ns.empty() ? run_command({"ip", "-batch", "-"}, input)
                             : run_command({"ip", "-n", ns, "-batch", "-"}, input);
    if (!result) return std::unexpected(result.error());
  }
  return {};
}

Result<void> enter_namespace(const std::string& name) {
  const std::string path = "/run/netns/" + name;
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return make_error(ErrorCode::kNetworkError, fmt::format("{}: {}", path, std::strerror(errno)));
  if (::setns(fd.get(), CLONE_NEWNET) != 0) {
    return make_error(ErrorCode::kNetworkError, fmt::format("setns {}: {}", name, std::strerror(errno)));
  }
  return {};
}

}  // namespace mitmscope::lab
