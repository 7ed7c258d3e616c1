// The interceptor's certificate factory, as the 2019 Kazakh device behaved
// (shared/BRIEF.md): the forged leaf copies subject and SAN from the server's real
// certificate, gets a host-specific RSA key (2048 bits, e=3), the original validity
// shifted (6 hours earlier; 24 from 2019-07-30), the original serial with its last
// 33 bits random, no other extension, and is signed by the intermediate
// "CN=Security Certificate". The rules are data (ForgingRules) so scenarios can
// change them between phases.
#pragma once

#include <future>
#include <map>
#include <mutex>

#include "lab/pki.h"

namespace mitmscope::lab {

struct ForgingRules {
  int validity_shift_hours = -6;
  int key_bits = 2048;
  unsigned long key_exponent = 3;
  int serial_random_bits = 33;
  bool copy_subject_alt_names = true;
};

class Forger {
 public:
  Forger(Identity issuer, ForgingRules rules);

  // Thread-safe. Keys are minted once per host (per genuine subject+SAN) and reused;
  // the returned identity holds the forged leaf and its key (the interceptor serves it).
  Result<Identity> forge(const Certificate& genuine);
  // The same, with the intermediate that signed it, for serving as a chain even while
  // another thread switches the issuer.
  struct Forged {
    Identity leaf;
    Certificate issuer;
  };
  Result<Forged> forge_chain(const Certificate& genuine);
  Identity issuer() const;
  ForgingRules rules() const;
  void set_rules(const ForgingRules& rules);
  void set_issuer(Identity issuer);

 private:
  Result<SharedKey> host_key(const std::string& host, const ForgingRules& rules);
  Identity issuer_;
  ForgingRules rules_;
  mutable std::mutex mutex_;
  // One key per host; the first request mints it, concurrent ones wait for the same key.
  std::map<std::string, std::shared_future<Result<SharedKey>>> keys_;
};

// The interceptor's hierarchy: a 30-year RSA root named like Qaznet (marked as the
// lab's) and a 3-year "CN=Security Certificate" intermediate under it.
struct InterceptorHierarchy {
  Identity root;
  Identity intermediate;
};
Result<InterceptorHierarchy> make_interceptor_hierarchy(UtcSeconds now, int root_bits = 4096);

// A scenario's issuer: the root and every intermediate, validity relative to `now`.
struct IssuerHierarchy {
  Identity root;
  std::vector<Identity> intermediates;
};
Result<IssuerHierarchy> make_issuer_hierarchy(const struct IssuerSpec& spec, UtcSeconds now);

}  // namespace mitmscope::lab
