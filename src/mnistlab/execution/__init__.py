"""Running the lab: networks as frozen values (subrun), their cache keyed by the code they run
(fingerprint, cache), atomic results (atomic, store), the executors that train what the cache lacks,
the runner that plans, executes and analyses, cost estimates for `mnistlab plan` (estimate), threads and
devices (runtime), progress lines and training logs."""
