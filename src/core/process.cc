#include "core/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <tuple>

#include <fmt/format.h>

namespace mitmscope {
namespace {

constexpr int kNotFoundStatus = 127;

std::string joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& part : argv) text += (text.empty() ? "" : " ") + part;
  return text;
}

// What the child does between fork and exec: async-signal-safe calls only.
struct ChildPlan {
  std::vector<char*> argv;
  int input = -1, output = -1, errors = -1;   // descriptors to become 0, 1, 2 (-1: keep)
  bool own_process_group = false;
  int parent_death_signal = 0;
  pid_t parent = 0;
};

[[noreturn]] void become_child(const ChildPlan& plan) {
  if (plan.parent_death_signal != 0) {
    ::prctl(PR_SET_PDEATHSIG, plan.parent_death_signal);
    if (::getppid() != plan.parent) ::_exit(1);   // the parent ended before the line above
  }
  if (plan.own_process_group) ::setpgid(0, 0);
  if (plan.input >= 0) ::dup2(plan.input, STDIN_FILENO);
  if (plan.output >= 0) ::dup2(plan.output, STDOUT_FILENO);
  if (plan.errors >= 0) ::dup2(plan.errors, STDERR_FILENO);
  ::execvp(plan.argv[0], plan.argv.data());
  ::_exit(kNotFoundStatus);
}

Result<UniqueFd> open_log(const SpawnOptions& options) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (options.truncate_log ? O_TRUNC : O_APPEND);
  UniqueFd log(::open(options.log.c_str(), flags, 0644));
  if (!log) return make_error(ErrorCode::kFileUnwritable, fmt::format("{}: {}", options.log.string(), std::strerror(errno)));
  return log;
}

}  // namespace

Result<Child> spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return make_error(ErrorCode::kInvalidArgument, "no program to run");
  ChildPlan plan;
  for (const auto& part : options.argv) plan.argv.push_back(const_cast<char*>(part.c_str()));
  plan.argv.push_back(nullptr);
  plan.own_process_group = options.own_process_group;
  plan.parent_death_signal = options.parent_death_signal;
  plan.parent = ::getpid();

  Child child;
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  UniqueFd child_input, child_output, child_errors, log;
  if (options.pipe_input) {
    // A child that exits without reading its input must not end this process with SIGPIPE on our next write;
    // the TLS engine ignores it process-wide for the same reason (a peer that closes first).
    ::signal(SIGPIPE, SIG_IGN);
    auto pipe = make_pipe(O_CLOEXEC);
    if (!pipe) return std::unexpected(pipe.error());
    child_input = std::move(pipe->read);
    child.input = std::move(pipe->write);
  }
  if (options.capture_output) {
    auto out = make_pipe(O_CLOEXEC);
    auto err = make_pipe(O_CLOEXEC);
    if (!out || !err) return std::unexpected(!out ? out.error() : err.error());
    child_output = std::move(out->write), child.output = std::move(out->read);
    child_errors = std::move(err->write), child.errors = std::move(err->read);
  } else if (!options.log.empty()) {
    auto opened = open_log(options);
    if (!opened) return std::unexpected(opened.error());
    log = std::move(*opened);
  }
  plan.input = child_input ? child_input.get() : null.get();
  plan.output = child_output ? child_output.get() : log.get();
  plan.errors = child_errors ? child_errors.get() : log.get();

  child.pid = ::fork();
  if (child.pid < 0) return make_error(ErrorCode::kNetworkError, fmt::format("fork: {}", std::strerror(errno)));
  if (child.pid == 0) become_child(plan);
  return child;
}

std::string ExitStatus::describe() const {
  if (timed_out) return "killed after the timeout";
  if (signal != 0) return fmt::format("ended by signal {}", signal);
  return fmt::format("exit status {}", code);
}

ExitStatus wait_for_exit(pid_t pid, std::optional<std::chrono::milliseconds> timeout) {
  ExitStatus result;
  int status = 0;
  if (!timeout) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  } else {
    const auto deadline = std::chrono::steady_clock::now() + *timeout;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        result.timed_out = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (WIFEXITED(status)) result.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

namespace {

// Writes `input` and reads stdout and stderr together, so a child that fills one pipe never blocks.
void exchange(Child& child, const std::string& input, std::string& output, std::string& errors) {
  size_t written = 0;
  if (input.empty()) child.input.reset();
  char buffer[4096];
  while (child.input || child.output || child.errors) {
    pollfd fds[3] = {{child.input.get(), POLLOUT, 0}, {child.output.get(), POLLIN, 0}, {child.errors.get(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) {
      const ssize_t count = ::write(child.input.get(), input.data() + written, input.size() - written);
      if (count > 0) written += static_cast<size_t>(count);
      if (count <= 0 || written == input.size()) child.input.reset();   // done, or the child does not read it
    }
    for (auto [index, fd, text] : {std::tuple{1, &child.output, &output}, std::tuple{2, &child.errors, &errors}}) {
      if (fds[index].revents == 0) continue;
      const ssize_t count = ::read(fd->get(), buffer, sizeof buffer);
      if (count > 0) text->append(buffer, static_cast<size_t>(count));
      else fd->reset();
    }
  }
}

}  // namespace

Result<std::string> run_command(const std::vector<std::string>& argv, const std::string& input) {
  auto child = spawn({.argv = argv, .pipe_input = true, .capture_output = true});
  if (!child) return std::unexpected(child.error());
  std::string output, errors;
  exchange(*child, input, output, errors);
  const ExitStatus status = wait_for_exit(child->pid);
  if (status.success()) return output;
  if (status.code == kNotFoundStatus && status.signal == 0) {
    return make_error(ErrorCode::kFileNotFound, fmt::format("{}: command not found (install it: scripts/install-deps.sh)", argv[0]));
  }
  while (!errors.empty() && errors.back() == '\n') errors.pop_back();
  return make_error(ErrorCode::kNetworkError, fmt::format("'{}' failed: {}", joined(argv).substr(0, 200), errors));
}

}  // namespace mitmscope
