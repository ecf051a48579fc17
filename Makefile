# meshcheck: `make verify` and `make test` are the two commands a fresh clone needs.
# Both create .venv and install the project into it first (once, and again when pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Python's compiled modules for every command these targets run, kept in one folder out of the tree
# (PYTHONPYCACHEPREFIX). A machine that sets PYTHONDONTWRITEBYTECODE, as container images often do,
# otherwise compiles every module again in every process: pytest's assertion rewriting was 13 of the
# 20 CPU-seconds each test worker spends collecting, and each node process of a cluster compiled the
# core it hosts at each start (0.30 CPU-s against 0.17 with the cache).
export PYTHONPYCACHEPREFIX := $(CURDIR)/.cache/pycache
unexport PYTHONDONTWRITEBYTECODE

.PHONY: verify verify-full test test-all test-cost lint bench mutants mutation heldout java redis etcd zookeeper etcd-raft nats postgresql mariadb netns sshd nodejs plenum plenum-1.12.1 docs docs-serve clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# One line and exit 2 when Java 11+ or tla2tools.jar is missing.
java: $(STAMP)
	@$(BIN)/python -m meshcheck.specs.tlc.java >/dev/null

# Debian's headless Chromium, in which tests/test_html_report.py opens the HTML report: installed when
# missing (apt-get, as root); when it cannot be, one line says so and those tests are skipped.
.PHONY: chromium
chromium:
	@test -x /usr/bin/chromium || apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
	  || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; } \
	  || echo "make chromium: could not install Debian's chromium (apt-get install -y --no-install-recommends chromium, as root): the HTML report's browser tests are skipped"

# The 3-minute gate (the `fast` profile: each spec's quick model, every proof, the property tests
# marked `fast`, every stored trace; docs/reference/profiles.md), and every check the project has
# (the `default` profile: the full models and budgets, the kill matrices, etcd and the clusters of
# processes, whose servers and driver it installs first). VERIFY_PROFILE picks another profile.
VERIFY_PROFILE ?= fast
verify: java $(if $(filter fast,$(VERIFY_PROFILE)),,etcd etcd-raft)
	@$(BIN)/meshcheck verify --profile $(VERIFY_PROFILE) $(VERIFY_FLAGS)

verify-full: java etcd etcd-raft
	@$(BIN)/meshcheck verify --profile default $(VERIFY_FLAGS)

# The suite CI runs (its time on 2 cores, and the target, in docs/performance.md): everything but the slow tier, the tests marked
# `slow`: TLC on models whose state counts `make verify-full` checks, the PBFT and hybrid kill matrices
# in the default order, which pin each mutant's first killer (the quick tier kills every mutant too,
# the stored traces first), the second and later clusters of real processes of a kind, whole verify
# runs beyond the determinism check, campaigns over Redis and Dask. `make test-all` runs both tiers.
# The tests run on every core (pytest-xdist, one process per core, each test file kept on one
# worker so that a file's module fixtures, a TLC run or a JVM, are built once); `TEST_WORKERS=0`
# runs them in this process, one after another.
# A test that runs past TEST_TIMEOUT seconds fails with its stack (pytest-timeout), so that one
# hung test costs CI minutes, not its whole budget. A worker that dies (a test that ended its
# process: the runtime's host ends a node's process on a step that raises) fails its test and is
# not replaced (--max-worker-restart 0): replacing it under --dist loadfile once left the run
# waiting for ever (xdist's loadscope scheduler, KeyError on the new worker's collection).
# The tests' JVMs compile with C1 only (TEST_JVM_OPTIONS; `make mutation` and `make heldout` too):
# hundreds of checks of seconds each, where C2's work is thrown away with each check's class loader
# (specs/tlc/runtime.py: half the CPU time of the TLC-heavy test files); `meshcheck` itself keeps the
# JVM's default for long model checks.
# The tests record no coverage (MESHCHECK_COVERAGE=0): nothing in the suite reads what the property
# tests reached, and recording it (a canonical digest of every abstract state, the rare conditions
# of every step) was a quarter of the free runs' CPU. `meshcheck verify`, which reports it, turns it
# on for its own pytest runs, which is how the suite's tests of the recording reach it; `make
# test-all` keeps recording.
# The servers and tools some tests need come from Debian first (redis: docs/campaigns.md's tutorial).
TEST_WORKERS ?= auto
TEST_TIMEOUT ?= 300
TEST_JVM_OPTIONS ?= -XX:TieredStopAtLevel=1
TEST_ENV = MESHCHECK_JVM_OPTIONS="$(TEST_JVM_OPTIONS)" MESHCHECK_COVERAGE=0
# plenum's venv (about 75 s from a cold cache) is built beside the tests, not before them: its
# process id goes to the tests as MESHCHECK_BUILD_PID, the tests that need it run last and wait for
# it if they must (tests/conftest.py BUILT_BESIDE, property_tests/plenum/runs.py `built`), and its
# one or two lines are printed when the tests end; `make plenum` alone builds it in the foreground.
test: java chromium etcd zookeeper etcd-raft nats postgresql mariadb nodejs redis netns fuse sshd
	@$(BIN)/lint-imports --no-cache
	@mkdir -p .build; $(MAKE) --no-print-directory plenum plenum-1.12.1 >.build/plenum-make.log 2>&1 </dev/null & build=$$!; \
	  MESHCHECK_BUILD_PID=$$build $(TEST_ENV) $(BIN)/python -m pytest -m "not slow" -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --max-worker-restart 0 --timeout $(TEST_TIMEOUT) $(PYTEST_FLAGS); \
	  status=$$?; wait $$build; cat .build/plenum-make.log; exit $$status

# Both tiers, as `make test` runs its own; the slow tier's longest test (two whole verify runs) takes
# minutes, hence its own timeout.
TEST_ALL_TIMEOUT ?= 1800
test-all: java chromium etcd zookeeper etcd-raft nats postgresql mariadb nodejs redis netns fuse sshd plenum plenum-1.12.1
	@$(BIN)/lint-imports --no-cache
	@MESHCHECK_JVM_OPTIONS="$(TEST_JVM_OPTIONS)" $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --max-worker-restart 0 --timeout $(TEST_ALL_TIMEOUT) $(PYTEST_FLAGS)

# What each test file of `make test` costs: the same run, each test's wall and CPU seconds (its child
# processes and the JVM's threads counted) written to reports/test-cost.jsonl by tests/cost_profile.py,
# then one table, the heaviest files first. It fails as `make test` fails; the table is printed
# either way.
test-cost: java chromium etcd zookeeper etcd-raft nats postgresql mariadb nodejs redis netns fuse sshd plenum plenum-1.12.1
	@mkdir -p reports && rm -f reports/test-cost.jsonl
	@MESHCHECK_TEST_COST=$(CURDIR)/reports/test-cost.jsonl $(TEST_ENV) $(BIN)/python -m pytest -p tests.cost_profile -m "not slow" -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --max-worker-restart 0 --timeout $(TEST_TIMEOUT) $(PYTEST_FLAGS); \
	  status=$$?; $(BIN)/python -m tests.cost_profile reports/test-cost.jsonl; exit $$status

lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy
	@$(BIN)/lint-imports --no-cache

bench: java fuse
	@$(BIN)/python -m bench $(BENCH_FLAGS)

# Each known bug of each protocol switched on in turn: which check kills it (MUTANTS_FLAGS=--all for
# the whole matrix, --save traces to refresh the regression corpus). Every registered protocol with
# a mutant catalogue runs (`meshcheck protocols` lists them); the exit status is the worst.
mutants: java
	$(BIN)/meshcheck mutants $(MUTANTS_FLAGS)

# Mutation testing of the protocol cores (impl/rsm, raft, pbft, hybrid) with mutmut, each mutant
# against the tests of its core that execute what it changes, the property tests in the `ci`
# profile: a score table per file (mutation/run.py; docs/mutation.md). A campaign of hours,
# outside `make test`; verdicts are kept in mutation/results/ (committed) and mutants/, so a run on
# any machine tests only what no run has tested yet. MUTATION_FLAGS: the cores or files to run (rsm
# raft/log pbft ...), --workers N (default: every core), --sample N (an estimate), --rerun
# gaps|survivors|all, --select function (mutmut's own test selection).
$(VENV)/.mutation: pyproject.toml $(STAMP)
	@$(BIN)/python -m pip install --quiet -e '.[mutation]'
	@touch $@

mutation: java $(VENV)/.mutation
	@MESHCHECK_JVM_OPTIONS="$(TEST_JVM_OPTIONS)" $(BIN)/python mutation/run.py run $(MUTATION_FLAGS)

# The held-out bugs (mutation/heldout.toml), each applied in turn to a copy of HEAD with the suite
# run on it as `make test` runs it: killed or survived (HELDOUT_FLAGS=--profile dev, --bug ID).
heldout: java
	MESHCHECK_JVM_OPTIONS="$(TEST_JVM_OPTIONS)" nice -n 10 $(BIN)/python -m mutation.heldout $(HELDOUT_FLAGS)

# Debian's Redis server, for campaigns that share Hypothesis's example database across machines
# (docs/campaigns.md) and for the test that runs one (tests/test_campaign.py starts its own).
redis:
	@command -v redis-server >/dev/null || apt-get install -y --no-install-recommends redis-server \
		|| (apt-get update && apt-get install -y --no-install-recommends redis-server)

# Debian's FUSE 3 (fusermount3 and libfuse3.so.3, which mfusepy loads), for the lazy filesystem of the
# disk faults (meshcheck/faults/, docs/faults.md): installed when missing (apt-get, as root); when it
# cannot be, one line says so and the tests that mount it are skipped.
.PHONY: fuse
fuse:
	@{ command -v fusermount3 >/dev/null && test -e /usr/lib/$$(uname -m)-linux-gnu/libfuse3.so.3; } \
	  || apt-get install -y --no-install-recommends fuse3 libfuse3-3 >/dev/null 2>&1 \
	  || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends fuse3 libfuse3-3 >/dev/null 2>&1; } \
	  || echo "make fuse: could not install Debian's fuse3 (apt-get install -y --no-install-recommends fuse3 libfuse3-3, as root): the lazy filesystem's tests are skipped"

# Debian's etcd-server (etcd 3.4), the system `meshcheck cluster test --system etcd` puts under test
# (meshcheck/systems/known/etcd.toml): installed when missing (apt-get, as root); when it cannot be, one line
# says so and the etcd tests are skipped.
etcd:
	@command -v etcd >/dev/null || apt-get install -y --no-install-recommends etcd-server >/dev/null 2>&1 \
	  || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends etcd-server >/dev/null 2>&1; } \
	  || echo "make etcd: could not install Debian's etcd-server (apt-get install -y --no-install-recommends etcd-server, as root): the etcd tests are skipped"

# Debian's zookeeper (Apache ZooKeeper 3.8, its jars in /usr/share/java; Java 17 comes with it), the
# system `meshcheck cluster test --system zookeeper` puts under test (meshcheck/systems/known/
# zookeeper.toml; its client, kazoo, is the `systems` extra): installed when missing (apt-get, as
# root); when it cannot be, one line says so and the ZooKeeper tests are skipped.
zookeeper:
	@{ command -v java && test -f /usr/share/java/zookeeper.jar; } >/dev/null 2>&1 \
	  || apt-get install -y --no-install-recommends zookeeper >/dev/null 2>&1 \
	  || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends zookeeper >/dev/null 2>&1; } \
	  || echo "make zookeeper: could not install Debian's zookeeper (apt-get install -y --no-install-recommends zookeeper, as root): the ZooKeeper tests are skipped"

# The network-layer and clock faults (meshcheck/cluster/netns.py, clock_faults.py; docs/network-faults.md):
# Debian's iproute2 (ip, tc), nftables, iptables (the NFQUEUE rule of the delayer, on kernels without
# netem) and gcc (which builds the clock faults' preloaded library, clock_shift.c, on first use),
# installed when missing (apt-get, as root); when they cannot be, one line says so and the tests that
# need them are skipped.
NETNS_PACKAGES := iproute2 nftables iptables procps gcc libc6-dev
netns:
	@{ command -v ip && command -v tc && command -v nft && command -v iptables && command -v sysctl \
	  && command -v cc && test -f /usr/include/elf.h; } >/dev/null 2>&1 \
	  || apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends $(NETNS_PACKAGES) >/dev/null 2>&1 \
	  || { apt-get update >/dev/null 2>&1 && apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends $(NETNS_PACKAGES) >/dev/null 2>&1; } \
	  || echo "make netns: could not install Debian's $(NETNS_PACKAGES) (apt-get install -y $(NETNS_PACKAGES), as root): the namespace network and clock fault tests are skipped"

# Debian's OpenSSH server and client, for the tests of `meshcheck cluster test --hosts` (nodes on hosts
# reached over SSH, meshcheck/systems/remote.py; docs/systems.md): tests/sshd_hosts.py starts one
# sshd of its own in each network namespace a test builds, with a key made for the run. Installed when
# missing (apt-get, as root); when it cannot be, one line says so and those tests are skipped.
SSHD_PACKAGES := openssh-server openssh-client
sshd:
	@{ test -x /usr/sbin/sshd && command -v ssh && command -v ssh-keygen; } >/dev/null 2>&1 \
	  || apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends $(SSHD_PACKAGES) >/dev/null 2>&1 \
	  || { apt-get update >/dev/null 2>&1 && apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends $(SSHD_PACKAGES) >/dev/null 2>&1; } \
	  || echo "make sshd: could not install Debian's $(SSHD_PACKAGES) (apt-get install -y $(SSHD_PACKAGES), as root): the tests over SSH are skipped"

# Debian's nats-server (NATS 2.9 with JetStream), the system `meshcheck cluster test --system nats`
# puts under test (meshcheck/systems/known/nats.toml, docs/systems.md): installed when missing
# (apt-get, as root); when it cannot be, one line says so and the NATS tests are skipped.
nats:
	@command -v nats-server >/dev/null || test -x /usr/sbin/nats-server \
	  || apt-get install -y --no-install-recommends nats-server >/dev/null 2>&1 \
	  || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends nats-server >/dev/null 2>&1; } \
	  || echo "make nats: could not install Debian's nats-server (apt-get install -y --no-install-recommends nats-server, as root): the NATS tests are skipped"

# Debian's postgresql-15, the system `meshcheck cluster test --system postgresql` puts under test
# (meshcheck/systems/known/postgresql*.toml, docs/sql.md): installed when missing (apt-get, as root);
# when it cannot be, one line says so and the PostgreSQL tests are skipped.
postgresql:
	@test -x /usr/lib/postgresql/15/bin/postgres \
	  || apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends postgresql-15 >/dev/null 2>&1 \
	  || { apt-get update >/dev/null 2>&1 && apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends postgresql-15 >/dev/null 2>&1; } \
	  || echo "make postgresql: could not install Debian's postgresql-15 (apt-get install -y --no-install-recommends postgresql-15, as root): the PostgreSQL tests are skipped"

# Debian's mariadb-server (MariaDB 10.11) and galera-4 (the Galera 4 wsrep provider), the system
# `meshcheck cluster test --system galera` puts under test (meshcheck/systems/known/galera.toml,
# docs/sql.md): installed when missing (apt-get, as root; Debian's policy-rc.d keeps the packaged
# service from starting, and none is needed: the harness starts its own servers); when they cannot
# be, one line says so and the Galera tests are skipped.
MARIADB_PACKAGES = mariadb-server galera-4
mariadb:
	@{ test -x /usr/sbin/mariadbd && test -f /usr/lib/galera/libgalera_smm.so; } \
	  || apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends $(MARIADB_PACKAGES) >/dev/null 2>&1 \
	  || { apt-get update >/dev/null 2>&1 && apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends $(MARIADB_PACKAGES) >/dev/null 2>&1; } \
	  || echo "make mariadb: could not install Debian's $(MARIADB_PACKAGES) (apt-get install -y --no-install-recommends $(MARIADB_PACKAGES), as root): the Galera tests are skipped"

# etcd's Raft library (go.etcd.io/etcd/raft, etcd 3.4) served over the driver protocol
# (docs/etcd-raft.md): Debian's Go and the library's source (golang-go, golang-etcd-server-dev)
# installed when missing (apt-get, as root), the driver built offline in GOPATH mode from
# drivers/etcd-raft into .build/ (again when its source changes). When it cannot be, one line says
# so and the tests that drive it are skipped. -ldflags=-w: the driver reaches one unexported
# variable of the library by name (drivers/etcd-raft/rand.go), which DWARF cannot describe.
ETCD_RAFT_DRIVER := .build/etcd-raft-driver
GOPATH_DEBIAN := /usr/share/gocode
etcd-raft: $(ETCD_RAFT_DRIVER)

$(ETCD_RAFT_DRIVER): $(wildcard drivers/etcd-raft/*.go)
	@{ command -v go >/dev/null && test -d $(GOPATH_DEBIAN)/src/go.etcd.io/etcd/raft; } \
	  || apt-get install -y --no-install-recommends golang-go golang-etcd-server-dev >/dev/null 2>&1 \
	  || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends golang-go golang-etcd-server-dev >/dev/null 2>&1; } \
	  || echo "make etcd-raft: could not install Debian's golang-go and golang-etcd-server-dev (apt-get install -y golang-go golang-etcd-server-dev, as root): the etcd Raft driver's tests are skipped"
	@if command -v go >/dev/null && test -d $(GOPATH_DEBIAN)/src/go.etcd.io/etcd/raft; then \
	  mkdir -p .build && GOPATH=$(GOPATH_DEBIAN) GO111MODULE=off GOFLAGS= GOCACHE=$(CURDIR)/.build/gocache \
	    go build -ldflags=-w -o $@ ./drivers/etcd-raft; fi

# Hyperledger Indy Plenum 1.13.1 (PyPI indy-plenum), a BFT replication library nobody here wrote, in a
# venv of its own (.venv-plenum, so the main .venv's dependencies are untouched), from PyPI and Debian
# alone: drivers/plenum/build.sh installs the pinned dependencies (drivers/plenum/requirements.txt),
# builds ujson 1.33 and orderedset from their sdists with the patches under drivers/plenum/, and
# aliases at start-up the names Python 3.10 and 3.11 removed (docs/plenum.md says what and why).
# leveldb, which plenum declares but whose store the consensus services never open, is not installed
# (compiling it was most of the build). Again when those files change. About 75 s with pip's cache
# empty (docs/plenum.md, "What it costs"): `make test` builds it beside its tests, `test-all` and
# `test-cost` before theirs;
# when it cannot be built, one line says so, they go on, and the tests that drive plenum are skipped.
PLENUM_VENV := .venv-plenum
plenum: $(PLENUM_VENV)/.installed

$(PLENUM_VENV)/.installed: drivers/plenum/build.sh drivers/plenum/requirements.txt drivers/plenum/py311_compat.py $(wildcard drivers/plenum/patches/*)
	@drivers/plenum/build.sh $(PYTHON) $(PLENUM_VENV) .build/plenum

# plenum 1.12.1 beside 1.13.1, for the campaign that compares them (docs/plenum.md, "1.12.1"): its
# sdist's packages copied apart and patched, run by .venv-plenum with MESHCHECK_PLENUM_PATH set.
# Seconds (nothing compiles), so `make test` builds it too and its three tests run; one line and
# they are skipped when it cannot be built.
plenum-1.12.1: .build/plenum-1.12.1/.installed

.build/plenum-1.12.1/.installed: $(PLENUM_VENV)/.installed drivers/plenum/build-1.12.1.sh $(wildcard drivers/plenum/patches-1.12.1/*)
	@drivers/plenum/build-1.12.1.sh $(PLENUM_VENV) .build/plenum-1.12.1

# Debian's Node.js, which runs the toy driver in JavaScript (drivers/toy-counter, `meshcheck driver
# conform`): installed when missing; when it cannot be, one line says so and its tests are skipped.
nodejs:
	@command -v node >/dev/null || apt-get install -y --no-install-recommends nodejs >/dev/null 2>&1 \
	  || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends nodejs >/dev/null 2>&1; } \
	  || echo "make nodejs: could not install Debian's nodejs (apt-get install -y --no-install-recommends nodejs, as root): the toy driver's tests are skipped"

# The documentation site (mkdocs.yml: MkDocs with Material, docs/*.md, the command reference written
# from the parser and the example report page drawn by docs/hooks.py) into build/site, strict: a
# broken link or reference fails it, as it fails make test (tests/test_docs_site.py). docs-serve
# serves it on 127.0.0.1:8000. First the pictures that are cheap to draw again are drawn again
# (tests fail when a committed one is stale): the counterexample timeline, the threat-level
# diagram, and the claims' plots from the runs their measurements kept (docs/claims/*.json.gz: minutes to hours of runs,
# made again by the command docs/claims.md gives for each).
docs: $(STAMP)
	@$(BIN)/meshcheck trace timeline traces/raft/commit_previous_term.itf.json --out docs/timeline-raft.svg
	@$(BIN)/python -m meshcheck.diagram docs/hybrid.md
	@for c in raft-deployment gossip bft-compare; do $(BIN)/meshcheck claims plot docs/claims/$$c.json.gz --out docs >/dev/null; done
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	@echo "docs: build/site/index.html"

docs-serve: $(STAMP)
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict -a 127.0.0.1:8000

clean:
	rm -rf $(VENV) $(PLENUM_VENV) build .build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis reports mutants .cache
