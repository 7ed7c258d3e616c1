// Running the system tools the lab is built with (iproute2, iptables) and the products it runs as devices,
// through core/process (run_command), with the command line and its error output in any failure message.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/process.h"

namespace mitmscope::lab {

// Starts argv in the background with stdout and stderr appended to `log`; the process gets SIGTERM
// when the calling thread exits (PR_SET_PDEATHSIG), so call it from a thread that lives as long
// as the process should. The caller reaps it (waitpid).
Result<int> spawn_process(const std::vector<std::string>& argv, const std::filesystem::path& log);

// `ip -batch -` with one command per line: thousands of changes in one process.
Result<void> ip_batch(const std::vector<std::string>& lines);

// Moves the calling thread into a named network namespace (/run/netns/NAME).
Result<void> enter_namespace(const std::string& name);

bool running_as_root();

}  // namespace mitmscope::lab
