#include "lab/command.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace mitmscope::lab {
namespace {

std::string read_all(int fd) {
  std::string out;
  char buffer[4096];
  ssize_t count;
  while ((count = ::read(fd, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<size_t>(count));
  return out;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& part : argv) text += (text.empty() ? "" : " ") + part;
  return text;
}

}  // namespace

bool running_as_root() { return ::geteuid() == 0; }

Result<int> spawn_process(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log_fd < 0) return make_error(ErrorCode::kFileUnwritable, fmt::format("{}: {}", log.string(), std::strerror(errno)));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return make_error(ErrorCode::kNetworkError, fmt::format("fork: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    std::vector<char*> args;
    for (const auto& part : argv) args.push_back(const_cast<char*>(part.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  return pid;
}

Result<std::string> run_command(const std::vector<std::string>& argv, const std::string& input) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) || ::pipe2(out_pipe, O_CLOEXEC) || ::pipe2(err_pipe, O_CLOEXEC)) {
    return make_error(ErrorCode::kNetworkError, fmt::format("pipe: {}", std::strerror(errno)));
  }
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(ErrorCode::kNetworkError, fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    std::vector<char*> args;
    for (const auto& part : argv) args.push_back(const_cast<char*>(part.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  // stdin is written before reading: inputs here are small (an ip batch of a few MB at most fits the pipe in chunks
  // because ip consumes it while we write); stderr and stdout are read after.
  size_t written = 0;
  while (written < input.size()) {
    const ssize_t count = ::write(in_pipe[1], input.data() + written, input.size() - written);
    if (count <= 0) break;
    written += static_cast<size_t>(count);
  }
  ::close(in_pipe[1]);
  std::string output = read_all(out_pipe[0]);
  std::string errors = read_all(err_pipe[0]);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
      return make_error(ErrorCode::kFileNotFound, fmt::format("{}: command not found (install it: scripts/install-deps.sh)", argv[0]));
    }
    while (!errors.empty() && errors.back() == '\n') errors.pop_back();
    return make_error(ErrorCode::kNetworkError, fmt::format("'{}' failed: {}", joined(argv).substr(0, 200), errors));
  }
  return output;
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
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::kNetworkError, fmt::format("{}: {}", path, std::strerror(errno)));
  const int result = ::setns(fd, CLONE_NEWNET);
  const int saved = errno;
  ::close(fd);
  if (result != 0) return make_error(ErrorCode::kNetworkError, fmt::format("setns {}: {}", name, std::strerror(saved)));
  return {};
}

}  // namespace mitmscope::lab
