// Running the system tools the lab is built with (iproute2, iptables), with the
// command line and its error output in any failure message.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"

namespace mitmscope::lab {

// Runs argv (searching PATH); `input` goes to its stdin. Fails on a non-zero exit.
Result<std::string> run_command(const std::vector<std::string>& argv, const std::string& input = {});

// `ip -batch -` with one command per line: thousands of changes in one process.
Result<void> ip_batch(const std::vector<std::string>& lines);

// Moves the calling thread into a named network namespace (/run/netns/NAME).
Result<void> enter_namespace(const std::string& name);

bool running_as_root();

}  // namespace mitmscope::lab
