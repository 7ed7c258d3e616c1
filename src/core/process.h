// Running other programs: the one place mitmscope forks. The lab runs iproute2, iptables and the real
// interception products; audit runs certutil and trust; monitor runs the user's hook; the demo runs this
// binary. Each says what the child's standard streams are, whether it leaves the terminal's process group
// and whether it dies with its parent; everything the child needs is prepared before fork, so the child
// only calls async-signal-safe functions (the parent has threads).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/unique_fd.h"

namespace mitmscope {

struct SpawnOptions {
  std::vector<std::string> argv;           // argv[0] is searched in PATH
  bool pipe_input = false;                 // stdin from a pipe (Child::input); otherwise /dev/null
  bool capture_output = false;             // stdout and stderr into pipes (Child::output, Child::errors)
  std::filesystem::path log;               // otherwise, when set: stdout and stderr appended to this file
  bool truncate_log = false;
  bool own_process_group = false;          // the terminal's Ctrl-C does not reach it
  int parent_death_signal = 0;             // sent to it when the spawning thread ends (PR_SET_PDEATHSIG)
};

struct Child {
  pid_t pid = -1;
  UniqueFd input, output, errors;          // set as the options asked
};

Result<Child> spawn(const SpawnOptions& options);

struct ExitStatus {
  int code = 0;                            // exit status; 127: the program was not found
  int signal = 0;                          // the signal that ended it (0: it exited)
  bool timed_out = false;                  // killed (SIGKILL) because the timeout passed
  bool success() const { return signal == 0 && !timed_out && code == 0; }
  // The shell's convention: the exit status, or 128 + the signal.
  int shell_status() const { return signal != 0 ? 128 + signal : code; }
  std::string describe() const;            // "exit status 2", "ended by signal 9", "killed after 500 ms"
};

// Waits for the child (retrying on EINTR); with a timeout, kills it with SIGKILL when the timeout passes.
ExitStatus wait_for_exit(pid_t pid, std::optional<std::chrono::milliseconds> timeout = std::nullopt);

// Runs argv to its end with `input` on stdin and returns its stdout. A non-zero exit is an error whose
// message holds the command line and its stderr; a missing program says how to install it.
Result<std::string> run_command(const std::vector<std::string>& argv, const std::string& input = {});

}  // namespace mitmscope
