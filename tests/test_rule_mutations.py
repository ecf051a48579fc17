"""The rule tests can fail: each rule broken in one line fails the test of that rule, and every
catalogue mutant fails some rule test.

tests/test_raft_rules.py and tests/test_pbft_rules.py hold one scenario test per receiver rule of
the papers. A test that cannot fail is a defect, so this module breaks each rule in the core, one
line at a time, and runs the rule's test on the broken core:

- `BREAKS`: for each rule test, at least one one-line change of the core's source that breaks the
  rule (a condition dropped or inverted, an off-by-one, a quorum one short, a line that does not
  run). The function holding the line is recompiled from its own source with that one line
  changed and patched in for the duration of the test (`broken`); the rule test, run directly,
  must fail with an AssertionError.
- `CATALOGUE`: each catalogue mutant (impl/raft/mutants.py, impl/pbft/mutants.py `BUGS`) switched
  on through the rule modules' `BUGS_UNDER_TEST` must fail the rule test named for it, in well
  under a second. This is the map from mutant to the rule it breaks.

A parametrized rule test fails when any of its cases fails.
"""

from __future__ import annotations
import __future__

import importlib
import inspect
import itertools
import sys
import textwrap
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from types import FunctionType
from types import ModuleType
from typing import Any

import attrs
import pytest

from meshcheck.impl.pbft import mutants as pbft_mutants
from meshcheck.impl.raft import mutants as raft_mutants
from tests import test_pbft_rules
from tests import test_raft_rules

RULE_MODULES: dict[str, ModuleType] = {"raft": test_raft_rules, "pbft": test_pbft_rules}

RAFT_NODE = "meshcheck.impl.raft.node:RaftNode"
RAFT_LOG = "meshcheck.impl.raft.log:RaftLog"
READ_INDEX = "meshcheck.impl.raft.readindex:ReadIndex"
REPLICA = "meshcheck.impl.pbft.replica:Replica"
PBFT_LOG = "meshcheck.impl.pbft.log"
VIEWCHANGE = "meshcheck.impl.pbft.viewchange"
CLIENT = "meshcheck.impl.pbft.client:Client"


@attrs.frozen
class Break:
    """`old` (one line's text, found exactly once in the function `where`) becomes `new`; the rule
    test `test` ("raft:test_..." or "pbft:test_...") must then fail."""

    test: str
    where: str  # "module:Class.method" or "module:function"
    old: str
    new: str

    @property
    def id(self) -> str:
        return f"{self.test.split(':')[1]}|{self.where.split(':')[1]}|{self.new.strip()[:40]}"


R = "raft:"
P = "pbft:"

BREAKS: tuple[Break, ...] = (
    Break(
        P + "test_4_3_a_checkpoints_state_is_not_signed_so_a_changed_one_blames_the_relayer",
        f"{REPLICA}._on_checkpoint",
        'self._report(source, BAD_STATE, (m,), "the state it relayed does not match")',
        'self._report(m.signer, BAD_STATE, (m,), "the state it relayed does not match")',
    ),
    Break(
        P + "test_4_4_a_view_change_relayed_with_another_batch_blames_the_relayer",
        f"{REPLICA}._intact",
        'self._report(source, BAD_SIGNATURE, (m,), "a batch inside changed on its way")',
        'self._report(m.signer, BAD_SIGNATURE, (m,), "a batch inside changed on its way")',
    ),
    # -- Raft, Figure 2: all servers
    Break(
        R + "test_all_servers_apply_committed_entries_in_order",
        f"{RAFT_NODE}._commit_to",
        "for i in range(self.commit_index + 1, index + 1):",
        "for i in range(self.commit_index + 1, index):",
    ),
    Break(
        R + "test_all_servers_adopt_a_higher_term_and_become_followers",
        f"{RAFT_NODE}._receive",
        "if self.role == LEADER and mutants.LEADER_IGNORES_HIGHER_TERM in self._bugs:",
        "if self.role == CANDIDATE:",
    ),
    Break(
        R + "test_all_servers_adopt_a_higher_term_and_become_followers",
        f"{RAFT_NODE}.become_follower",
        "self.term, self.voted_for = term, None",
        "self.term = term",
    ),
    Break(
        R + "test_a_follower_names_the_leader_it_follows_to_a_read",
        f"{RAFT_NODE}._client_read",
        "self._out.append(Reply(event.request_id, error=NOT_LEADER, leader=hint))",
        "self._out.append(Reply(event.request_id, error=NOT_LEADER, leader=None))",
    ),
    # -- Raft, Figure 2: followers
    Break(
        R + "test_followers_hearing_from_the_leader_stay_followers",
        f"{RAFT_NODE}._handle_append_request",
        "self.leader = m.source",
        "pass",
    ),
    Break(
        R + "test_followers_hearing_from_the_leader_stay_followers",
        f"{RAFT_NODE}._handle_append_request",
        "self._reset_election_timer()",
        "pass",
    ),
    Break(
        R + "test_followers_time_out_and_become_candidates",
        f"{RAFT_NODE}._tick",
        "if self.role == LEADER:",
        "if self.role != CANDIDATE:",
    ),
    # -- Raft, Figure 2: candidates
    Break(
        R + "test_candidates_need_more_than_half_the_votes_at_even_sizes",
        "meshcheck.impl.base.quorum:majority",
        "return n // 2 + 1",
        "return (n + 1) // 2",
    ),
    Break(
        R + "test_candidates_increment_term_vote_for_self_reset_timer_and_request_votes",
        f"{RAFT_NODE}.become_candidate",
        "self.voted_for = self.id",
        "self.voted_for = None",
    ),
    Break(
        R + "test_candidates_increment_term_vote_for_self_reset_timer_and_request_votes",
        f"{RAFT_NODE}.become_candidate",
        "self._reset_election_timer()",
        "pass",
    ),
    Break(
        R + "test_candidates_increment_term_vote_for_self_reset_timer_and_request_votes",
        f"{RAFT_NODE}._tick",
        'self.id, "", self.term, self.log.last_term, self.log.last_index',
        'self.id, "", self.term, self.log.last_term, self.commit_index',
    ),
    Break(
        R + "test_candidates_win_with_votes_from_a_majority",
        f"{RAFT_NODE}._handle_vote_response",
        "if m.term < self.term or not m.vote_granted:",
        "if m.term < self.term:",
    ),
    Break(
        R + "test_candidates_win_with_votes_from_a_majority",
        f"{RAFT_NODE}._handle_vote_response",
        "if m.term < self.term or not m.vote_granted:",
        "if not m.vote_granted:",
    ),
    Break(
        R + "test_candidates_step_down_on_append_entries_from_a_leader_of_their_term",
        f"{RAFT_NODE}._handle_append_request",
        "if self.role != FOLLOWER:",
        "if self.role == LEADER:",
    ),
    Break(
        R + "test_candidates_start_a_new_election_on_timeout",
        f"{RAFT_NODE}._tick",
        "if self.role == LEADER:",
        "if self.role != FOLLOWER:",
    ),
    # -- Raft, Figure 2: leaders
    Break(
        R + "test_leaders_send_heartbeats_on_election_and_when_idle",
        f"{RAFT_NODE}._tick",
        "self._out.append(SetTimer(HEARTBEAT, self.config.heartbeat_interval))",
        "pass",
    ),
    Break(
        R + "test_leaders_send_heartbeats_on_election_and_when_idle",
        f"{RAFT_NODE}.become_leader",
        "for peer in self.config.peers:",
        "for peer in ():",
    ),
    Break(
        R + "test_leaders_append_client_commands_and_answer_once_applied",
        f"{RAFT_NODE}._commit_to",
        "if request is not None:",
        "if request is None:",
    ),
    Break(
        R + "test_leaders_append_client_commands_and_answer_once_applied",
        f"{RAFT_NODE}._client_request",
        "if self.role != LEADER:",
        "if self.role == CANDIDATE:",
    ),
    Break(
        R + "test_leaders_replicate_from_next_index",
        f"{RAFT_NODE}._send_append",
        "entries = self.log.slice(next_index, stop)",
        "entries = self.log.slice(next_index + 1, stop)",
    ),
    Break(
        R + "test_leaders_update_next_and_match_index_on_success",
        f"{RAFT_NODE}._handle_append_response",
        "self.match_index[m.source] = max(self.match_index[m.source], m.match_index)",
        "self.match_index[m.source] = m.match_index",
    ),
    Break(
        R + "test_leaders_update_next_and_match_index_on_success",
        f"{RAFT_NODE}._handle_append_response",
        "self.next_index[m.source] = max(self.next_index[m.source], m.match_index + 1)",
        "self.next_index[m.source] = max(self.next_index[m.source], m.match_index)",
    ),
    Break(
        R + "test_leaders_of_a_cluster_of_one_commit_a_client_command_at_once",
        f"{RAFT_NODE}._client_request",
        "if len(self.config.servers) == 1:",
        "if len(self.config.servers) == 2:",
    ),
    Break(
        R + "test_a_deposed_leader_answers_its_pending_writes_outcome_unknown",
        f"{RAFT_NODE}._abandon_clients",
        "unknown=True,",
        "unknown=False,",
    ),
    Break(
        R + "test_a_restarted_leader_answers_none_of_the_writes_it_held",
        f"{RAFT_NODE}.__init__",
        "self._pending_durable = mutants.PENDING_WRITES_PERSISTED in self._bugs",
        "self._pending_durable = True",
    ),
    Break(
        R + "test_a_leader_deposed_by_the_next_leader_names_it_to_its_waiting_clients",
        f"{RAFT_NODE}._abandon_clients",
        "leader=self.leader,",
        "leader=None,",
    ),
    Break(
        R + "test_leaders_decrement_next_index_and_retry_on_failure",
        f"{RAFT_NODE}._backed_up",
        "return max(min(self.next_index[peer] - 1, m.conflict_index), floor)",
        "return max(min(self.next_index[peer], m.conflict_index + 1), floor)",
    ),
    Break(
        R + "test_leaders_skip_back_to_the_followers_hint_in_one_round_trip",
        f"{RAFT_NODE}._backed_up",
        "return max(min(self.next_index[peer] - 1, m.conflict_index), floor)",
        "return max(self.next_index[peer] - 1, floor)",
    ),
    Break(
        R + "test_leaders_commit_an_entry_of_their_term_stored_on_a_majority",
        f"{RAFT_NODE}._advance_commit",
        "self.config.quorum,",
        "self.config.quorum - 1,",
    ),
    Break(
        R + "test_leaders_commit_only_entries_of_their_term_by_counting",
        f"{RAFT_NODE}._advance_commit",
        "if self.log.term_at(n) == self.term or mutants.COMMIT_PREVIOUS_TERM in self._bugs:",
        "if True:",
    ),
    # -- Raft, Figure 2: RequestVote receiver
    Break(
        R + "test_request_vote_rule_1_reply_false_if_term_is_stale",
        f"{RAFT_NODE}._handle_vote_request",
        "if m.term == self.term:",
        "if m.term <= self.term:",
    ),
    Break(
        R + "test_request_vote_rule_2_one_vote_per_term",
        f"{RAFT_NODE}._handle_vote_request",
        "granted = log_ok and self.voted_for in (None, m.source)",
        "granted = log_ok",
    ),
    Break(
        R + "test_request_vote_rule_2_one_vote_per_term",
        f"{RAFT_NODE}._handle_vote_request",
        "granted = log_ok and self.voted_for in (None, m.source)",
        "granted = log_ok and self.voted_for is None",
    ),
    Break(
        R + "test_request_vote_rule_2_candidate_log_at_least_as_up_to_date",
        f"{RAFT_NODE}._handle_vote_request",
        "m.last_log_term == self.log.last_term and m.last_log_index >= self.log.last_index",
        "m.last_log_term == self.log.last_term and m.last_log_index > self.log.last_index",
    ),
    Break(
        R + "test_request_vote_rule_2_candidate_log_at_least_as_up_to_date",
        f"{RAFT_NODE}._handle_vote_request",
        "log_ok = m.last_log_term > self.log.last_term or (",
        "log_ok = m.last_log_term >= self.log.last_term or (",
    ),
    Break(
        R + "test_request_vote_rule_2_candidate_log_at_least_as_up_to_date",
        f"{RAFT_NODE}._handle_vote_request",
        "m.last_log_term == self.log.last_term and m.last_log_index >= self.log.last_index",
        "m.last_log_index >= self.log.last_index",
    ),
    Break(
        R + "test_request_vote_voted_for_is_persistent",
        f"{RAFT_NODE}._handle_vote_request",
        "self._hard_dirty = True",
        "pass",
    ),
    Break(  # volatile state kept outside the node object: the table outlives a crash
        R + "test_a_restarted_server_owes_no_client_an_answer",
        f"{RAFT_NODE}._load",
        "self._writes_pending = {}",
        "self._writes_pending = RaftNode._PENDING_BY_ID.setdefault(self.id, {})",
    ),
    # -- Raft, Figure 2: AppendEntries receiver
    Break(
        R + "test_append_entries_rule_1_reply_false_if_term_is_stale",
        f"{RAFT_NODE}._handle_append_request",
        "if m.term < self.term:",
        "if m.term < self.term - 1:",
    ),
    Break(
        R + "test_append_entries_rule_2_reply_false_without_a_matching_prev_entry",
        f"{RAFT_NODE}._handle_append_request",
        "if prev > self.log.last_index or (prev >= si and self.log.term_at(prev) != m.prev_log_term):",
        "if prev > self.log.last_index:",
    ),
    Break(
        R + "test_append_entries_rule_2_reply_false_without_a_matching_prev_entry",
        f"{RAFT_NODE}._handle_append_request",
        "if prev > self.log.last_index or (prev >= si and self.log.term_at(prev) != m.prev_log_term):",
        "if prev > self.log.last_index + 1 or (prev >= si and self.log.term_at(prev) not in (None, m.prev_log_term)):",
    ),
    Break(
        R + "test_append_entries_rule_2_reply_false_without_a_matching_prev_entry",
        f"{RAFT_NODE}._handle_append_request",
        "if prev > self.log.last_index or (prev >= si and self.log.term_at(prev) != m.prev_log_term):",
        "if prev > self.log.last_index or (prev >= si and self.log.term_at(prev) < m.prev_log_term):",
    ),
    Break(
        R + "test_append_entries_rule_3_delete_a_conflicting_entry_and_all_after_it",
        f"{RAFT_NODE}._handle_append_request",
        "self._truncate_from(index)",
        "self._truncate_from(index + 1)",
    ),
    Break(
        R + "test_append_entries_rule_3_delete_a_conflicting_entry_and_all_after_it",
        f"{RAFT_NODE}._handle_append_request",
        "if self.log.term_at(index) == entry.term:",
        "if self.log.term_at(index) <= entry.term:",
    ),
    Break(
        R + "test_append_entries_rule_3_holds_for_a_leader_that_append_deposes",
        f"{RAFT_NODE}._handle_append_request",
        "self._truncate_from(index)",
        "pass",
    ),
    Break(
        R + "test_append_entries_rule_3_deletes_from_the_first_conflict_in_a_batch_of_two_terms",
        f"{RAFT_NODE}._handle_append_request",
        "entry = m.entries[index - prev - 1]",
        "entry = m.entries[index - prev - 2]",
    ),
    Break(
        R + "test_append_entries_rule_4_append_new_entries_and_keep_a_matching_suffix",
        f"{RAFT_NODE}._handle_append_request",
        "continue  # already there (a duplicate or reordered request): keep it",
        "break",
    ),
    Break(
        R + "test_append_entries_rule_5_commit_up_to_min_of_leader_commit_and_last_new_entry",
        f"{RAFT_NODE}._handle_append_request",
        "self._commit_to(min(m.commit_index, last_new))",
        "self._commit_to(m.commit_index)",
    ),
    # -- Raft, section 7: InstallSnapshot receiver
    Break(
        R + "test_install_snapshot_comes_from_the_leader_of_its_term",
        f"{RAFT_NODE}._handle_snapshot_request",
        "self.become_follower(m.term, m.source)",
        "self.become_follower(m.term, None)",
    ),
    Break(
        R + "test_install_snapshot_rule_1_reply_immediately_if_term_is_stale",
        f"{RAFT_NODE}._handle_snapshot_request",
        "if m.term < self.term:",
        "if m.term < self.term - 1:",
    ),
    Break(
        R + "test_install_snapshot_discards_a_snapshot_older_than_the_commit_index",
        f"{RAFT_NODE}._handle_snapshot_request",
        "if m.last_included_index > self.commit_index:",
        "if m.last_included_index > self.log.snapshot_index:",
    ),
    Break(
        R + "test_install_snapshot_keeps_the_entries_after_a_matching_last_included_entry",
        f"{RAFT_LOG}.compact",
        "del self.entries[: self.position(index) + 1]",
        "self.entries = []",
    ),
    Break(
        R + "test_install_snapshot_otherwise_discards_the_whole_log",
        f"{RAFT_LOG}.compact",
        "if index <= self.last_index and self.term_at(index) == term:",
        "if index <= self.last_index:",
    ),
    Break(
        R + "test_install_snapshot_resets_the_state_machine_and_persists_it",
        f"{RAFT_NODE}._handle_snapshot_request",
        "self.machine.restore(m.data)",
        "pass",
    ),
    Break(
        R + "test_install_snapshot_resets_the_state_machine_and_persists_it",
        f"{RAFT_NODE}._handle_snapshot_request",
        "self._snapshot_dirty = True",
        "pass",
    ),
    # -- Raft thesis, section 6.4: ReadIndex
    Break(
        R + "test_read_index_step_1_waits_for_an_entry_of_the_leaders_term_to_commit",
        f"{RAFT_NODE}._client_read",
        "if self.log.term_at(self.commit_index) != self.term:",
        "if self.commit_index < 0:",
    ),
    Break(
        R + "test_read_index_step_2_records_the_commit_index_and_sends_a_heartbeat_round",
        f"{RAFT_NODE}._register_read",
        "self.reads.register(self.commit_index)",
        "self.reads.register(self.log.snapshot_index)",
    ),
    Break(
        R + "test_read_index_step_2_records_the_commit_index_and_sends_a_heartbeat_round",
        f"{READ_INDEX}.register",
        "self.seq += 1",
        "pass",
    ),
    Break(
        R + "test_read_index_step_3_needs_a_majority_acknowledging_this_round",
        f"{READ_INDEX}.ack",
        "if self.pending and seq == self.seq:",
        "if self.pending:",
    ),
    Break(
        R + "test_read_index_step_4_serves_the_read_from_the_applied_state",
        f"{RAFT_NODE}._complete_read",
        "self._out.append(Reply(read.request_id, self.machine.read(read.query), leader=self.id))",
        "self._out.append(Reply(read.request_id, self.snapshot_data, leader=self.id))",
    ),
    Break(
        R + "test_read_index_reads_arriving_during_a_round_ride_on_the_next_one_at_once",
        f"{RAFT_NODE}._complete_read",
        "self._out.append(SetTimer(READ_NEXT, 0))",
        "self._out.append(SetTimer(READ_NEXT, 1))",
    ),
    Break(
        R + "test_read_index_a_read_that_starts_a_round_before_read_next_fires_is_not_lost",
        f"{RAFT_NODE}._tick",
        "if self.role == LEADER and not self.reads.pending and self.reads.waiting:",
        "if self.role == LEADER and self.reads.waiting:",
    ),
    Break(
        R + "test_read_index_a_cluster_of_one_confirms_its_round_at_once",
        f"{RAFT_NODE}._register_read",
        "self._out.append(SetTimer(READ, 0))",
        "self._out.append(SetTimer(READ, 1))",
    ),
    # -- PBFT, section 4.1: the client
    Break(
        P + "test_4_1_the_primary_orders_a_request_and_a_backup_starts_its_timer",
        f"{REPLICA}._learn",
        "if self.is_primary:",
        "if not self.is_primary:",
    ),
    Break(
        P + "test_4_1_the_primary_orders_a_request_and_a_backup_starts_its_timer",
        f"{REPLICA}._start_request_timer",
        "self._out.append(SetTimer(request_timer(key), self._timeout(self.vc_attempts)))",
        "pass",
    ),
    Break(
        P + "test_4_1_a_retransmitted_executed_request_gets_the_last_reply_again",
        f"{REPLICA}._on_request",
        "if key in self.results:",
        "if key in self.pending:",
    ),
    Break(
        P + "test_4_1_a_request_ordered_again_is_not_executed_again",
        f"{REPLICA}._execute",
        "if key in self.results and mutants.EXECUTE_AGAIN not in self._bugs:",
        "if False:",
    ),
    Break(
        P + "test_4_1_another_request_under_an_executed_timestamp_is_not_answered",
        f"{REPLICA}._on_request",
        "if self.executed_requests.get(key) != m.body:",
        "if False:",
    ),
    Break(
        P + "test_4_1_a_restarted_client_does_not_reuse_a_timestamp",
        f"{CLIENT}._restart",
        "self.timestamp, self.issued = persisted.get(CLOCK, (0, 0))",
        "self.issued = persisted.get(CLOCK, (0, 0))[1]",
    ),
    Break(
        P + "test_4_1_a_request_ordered_twice_is_applied_once_when_the_state_is_rebuilt",
        f"{REPLICA}._replay",
        "if key not in self.results:",
        "if True:",
    ),
    Break(
        P + "test_4_1_a_request_the_client_did_not_sign_is_ignored",
        f"{REPLICA}.verify",
        "known = self.keys.verify(m.signer, m.signature, signing_bytes(m.body))",
        "known = True",
    ),
    Break(
        P + "test_4_1_the_client_accepts_on_f_plus_1_matching_replies",
        f"{CLIENT}._on_reply",
        "key = (reply.seq, timestamp, reply.result)",
        "key = (reply.seq, timestamp, None)",
    ),
    Break(
        P + "test_4_1_the_client_accepts_on_f_plus_1_matching_replies",
        f"{CLIENT}._on_reply",
        "needed = quorum.one_correct(self.config.f)",
        "needed = self.config.f",
    ),
    Break(
        P + "test_4_1_the_client_accepts_on_f_plus_1_matching_replies",
        f"{CLIENT}._on_reply",
        "self.keys.verify(m.signer, m.signature, signing_bytes(m.body))",
        "True",
    ),
    Break(
        P + "test_4_1_the_client_follows_the_view_f_plus_1_replies_name",
        f"{CLIENT}._view",
        "return quorum.quorum_value(self._views.values(), quorum.one_correct(self.config.f)) or 0",
        "return max(self._views.values(), default=0)",
    ),
    Break(
        P + "test_4_1_the_client_counts_a_reply_for_the_request_it_names",
        f"{CLIENT}._on_reply",
        "timestamp = reply.request.timestamp",
        "timestamp = 0",
    ),
    # -- PBFT, section 4.2: pre-prepare
    Break(
        P + "test_4_2_a_backup_accepts_a_pre_prepare_and_multicasts_a_prepare",
        f"{REPLICA}._sends",
        "self._send_prepare(pp)",
        "pass",
    ),
    Break(
        P + "test_4_2_a_backup_accepts_a_pre_prepare_and_multicasts_a_prepare",
        f"{REPLICA}._send_prepare",
        "self.store.add(prepare)",
        "pass",
    ),
    Break(
        P + "test_4_2_a_pre_prepare_with_a_bad_signature_is_refused",
        f"{REPLICA}._receive",
        "if not isinstance(m, Signed) or _claimed_signer(m.body) != m.signer or not self.verify(m):",
        "if not isinstance(m, Signed) or _claimed_signer(m.body) != m.signer:",
    ),
    Break(
        P + "test_4_2_a_pre_prepare_not_from_the_primary_is_refused",
        f"{REPLICA}._on_pre_prepare",
        "m.signer != self.config.primary(pp.view)",
        "m.signer == self.id",
    ),
    Break(
        P + "test_4_2_a_pre_prepare_whose_batch_does_not_match_its_digest_is_refused",
        f"{REPLICA}._on_pre_prepare",
        "batch_digest(pp.batch) != pp.digest",
        "False",
    ),
    Break(
        P + "test_4_2_a_pre_prepare_of_another_view_is_not_prepared",
        f"{PBFT_LOG}:MessageLog.open_slots",
        "return sorted(s for s in self.open if s[0] == view)",
        "return sorted(self.open)",
    ),
    Break(
        P + "test_4_2_a_pre_prepare_outside_the_watermarks_is_not_prepared",
        f"{REPLICA}._in_window",
        "return self.stable < seq <= self.stable + self.config.window",
        "return self.stable < seq",
    ),
    Break(
        P + "test_4_2_a_pre_prepare_outside_the_watermarks_is_not_prepared",
        f"{REPLICA}._in_window",
        "return self.stable < seq <= self.stable + self.config.window",
        "return self.stable < seq < self.stable + self.config.window",
    ),
    Break(
        P + "test_4_2_a_second_pre_prepare_for_the_same_view_and_number_is_refused",
        f"{PBFT_LOG}:MessageLog.add_pre_prepare",
        "if held is None:",
        "if True:",
    ),
    Break(
        P + "test_4_2_a_second_pre_prepare_for_the_same_view_and_number_is_refused",
        f"{PBFT_LOG}:MessageLog.add_pre_prepare",
        "return held if held.body.digest != m.body.digest else None",
        "return None",
    ),
    Break(
        P + "test_4_4_a_carried_prepared_certificate_counts_backups_prepares_only",
        "meshcheck.impl.pbft.viewchange:check_prepared",
        "if p.signer != pp.signer or mutants.PREPARED_COUNTS_PRIMARY in config.bugs:",
        "if True:",
    ),
    # -- PBFT, section 3: quorums at any number of replicas
    Break(
        P + "test_3_a_quorum_of_n_replicas_is_ceil_n_plus_f_plus_1_over_2",
        "meshcheck.impl.base.quorum:byzantine_quorum",
        "return (n + f + 2) // 2",
        "return 2 * f + 1",
    ),
    # -- PBFT, section 4.2: prepare and prepared
    Break(
        P + "test_4_2_prepared_needs_the_pre_prepare_and_2f_matching_prepares_of_backups",
        f"{PBFT_LOG}:prepares_needed",
        "return config.quorum - 1  # the pre-prepare is the primary's vote",
        "return config.quorum - 2",
    ),
    Break(
        P + "test_4_2_prepared_needs_the_pre_prepare_and_2f_matching_prepares_of_backups",
        f"{PBFT_LOG}:MessageLog.prepared",
        "votes = self.prepares.get((view, seq, pp.body.digest), {})",
        "votes = {s: p for (v, n, _), ps in self.prepares.items() if (v, n) == (view, seq) for s, p in ps.items()}",
    ),
    Break(
        P + "test_4_2_a_prepare_outside_the_watermarks_is_not_logged",
        f"{REPLICA}._in_window",
        "return self.stable < seq <= self.stable + self.config.window",
        "return self.stable < seq",
    ),
    # -- PBFT, section 4.2: commit, committed-local, execution
    Break(
        P + "test_4_2_committed_local_needs_2f_plus_1_matching_commits",
        f"{PBFT_LOG}:MessageLog.committed_local",
        "return digest if quorum.reaches(votes, self.config.quorum) else None",
        "return digest if quorum.reaches(votes, self.config.quorum - 1) else None",
    ),
    Break(
        P + "test_4_2_committed_local_needs_2f_plus_1_matching_commits",
        f"{PBFT_LOG}:MessageLog.add_commit",
        "votes = self.commits.setdefault((m.body.view, m.body.seq, m.body.digest), {})",
        "votes = self.commits.setdefault((0, m.body.seq, m.body.digest), {})",
    ),
    Break(
        P + "test_4_2_committed_local_needs_2f_plus_1_matching_commits",
        f"{REPLICA}._execute",
        "self._send_reply(r.body, seq, result)",
        "pass",
    ),
    Break(
        P + "test_4_2_requests_execute_in_sequence_number_order",
        f"{REPLICA}._due",
        "n = len(self.executed) + 1",
        "n = max(self.log.views_at, default=1)",
    ),
    Break(
        P + "test_4_2_requests_execute_in_sequence_number_order",
        f"{REPLICA}._follow_up",
        "self._out.append(SetTimer(PROGRESS, 0))",
        "pass",
    ),
    Break(
        P + "test_4_2_a_signature_vouches_for_its_own_message_only",
        f"{REPLICA}.verify",
        "known = self._verified.get(m)",
        "known = next((k for s, k in self._verified.items() if s.signature == m.signature), None)",
    ),
    # -- PBFT, section 4.3: checkpoints
    Break(
        P + "test_4_3_a_checkpoint_is_taken_every_k_requests",
        f"{REPLICA}._execute",
        "if seq % self.config.checkpoint_every == 0 or (self.machine.final and not was_final):",
        "if seq % self.config.checkpoint_every == 1 or (self.machine.final and not was_final):",
    ),
    Break(
        P + "test_4_3_a_checkpoint_is_taken_where_the_machine_became_final",
        f"{REPLICA}._execute",
        "if seq % self.config.checkpoint_every == 0 or (self.machine.final and not was_final):",
        "if seq % self.config.checkpoint_every == 0 or self.machine.final:",
    ),
    Break(
        P + "test_4_3_a_checkpoint_is_taken_where_the_machine_became_final",
        f"{REPLICA}._execute",
        "if seq % self.config.checkpoint_every == 0 or (self.machine.final and not was_final):",
        "if seq % self.config.checkpoint_every == 0:",
    ),
    Break(
        P + "test_4_3_a_final_state_f_plus_1_checkpoints_vouch_for_is_taken",
        f"{REPLICA}._final_transfer",
        "needed = quorum.one_correct(self.config.f)",
        "needed = self.config.quorum",
    ),
    Break(
        P + "test_4_3_a_final_state_f_plus_1_checkpoints_vouch_for_is_taken",
        f"{REPLICA}._on_checkpoint",
        "if c.seq % self.config.checkpoint_every and self._final_after(c.history):",
        "if c.seq % self.config.checkpoint_every:",
    ),
    Break(
        P + "test_4_3_a_checkpoint_is_taken_every_k_requests",
        f"{REPLICA}._execute",
        "Checkpoint(seq, self.state_digest, self.id, tuple(self.executed))",
        "Checkpoint(seq, GENESIS, self.id, tuple(self.executed))",
    ),
    Break(
        P + "test_4_3_a_checkpoint_is_stable_with_2f_plus_1_matching_proofs",
        f"{PBFT_LOG}:stable_quorum",
        "return config.quorum",
        "return config.quorum - 1",
    ),
    Break(
        P + "test_4_3_a_checkpoint_is_stable_with_2f_plus_1_matching_proofs",
        f"{PBFT_LOG}:MessageLog.add_checkpoint",
        "votes = self.checkpoints.setdefault(m.body.seq, {}).setdefault(m.body.digest, {})",
        "votes = self.checkpoints.setdefault(m.body.seq, {}).setdefault(b'', {})",
    ),
    Break(
        P + "test_4_3_a_replica_behind_is_sent_the_checkpoints_with_their_state_on_its_status",
        f"{REPLICA}._on_status",
        "answer.extend(c for seq, c in sorted(self.own_checkpoints.items()) if seq > st.stable)",
        "answer.extend(c for seq, c in sorted(self.own_checkpoints.items()) if seq > st.executed + 2)",
    ),
    Break(
        P + "test_4_3_a_replica_past_a_checkpoint_it_holds_no_proof_of_names_its_own_stable_one",
        f"{REPLICA}._send_status",
        "self.view, self.status == CHANGING, self.stable, len(self.executed), self.id",
        "self.view, self.status == CHANGING, len(self.executed), self.stable, self.id",
    ),
    Break(
        P + "test_4_3_a_stable_checkpoint_collects_the_log_and_advances_the_watermarks",
        f"{PBFT_LOG}:MessageLog.collect",
        "self.pre_prepares = {k: v for k, v in self.pre_prepares.items() if k[1] > low}",
        "self.pre_prepares = {k: v for k, v in self.pre_prepares.items() if k[1] >= low}",
    ),
    Break(
        P + "test_4_3_a_stable_checkpoint_collects_the_log_and_advances_the_watermarks",
        f"{REPLICA}._adopt",
        "self.store.log_collected = True",
        "pass",
    ),
    Break(
        P + "test_4_3_a_stable_checkpoint_collects_the_log_and_advances_the_watermarks",
        f"{REPLICA}._on_pre_prepare",
        "if pp.view < self.view or pp.seq <= self.stable:",
        "if pp.view < self.view:",
    ),
    # -- PBFT, section 4.4: view changes
    Break(
        P + "test_4_4_a_view_change_message_carries_the_checkpoint_and_the_prepared_set",
        f"{REPLICA}._start_view_change",
        "tuple(c for c in claims if c.seq > self.stable),",
        "(),",
    ),
    Break(
        P + "test_4_4_a_view_change_message_carries_the_checkpoint_and_the_prepared_set",
        f"{REPLICA}._send_commit",
        "self.log.certificates[proof.seq] = proof",
        "pass",
    ),
    Break(
        P + "test_4_4_a_replica_changing_views_accepts_no_pre_prepare_of_the_new_view_yet",
        f"{REPLICA}._sends",
        "if self.status != NORMAL:",
        "if False:",
    ),
    Break(
        P + "test_4_4_the_new_primary_computes_o_from_v_with_null_requests_for_gaps",
        f"{VIEWCHANGE}:plan_new_view",
        "if proof.seq > min_s and (held is None or proof.view > held.view):",
        "if proof.seq > min_s and held is None:",
    ),
    Break(
        P + "test_4_4_the_new_primary_computes_o_from_v_with_null_requests_for_gaps",
        f"{VIEWCHANGE}:plan_new_view",
        "for n in range(min_s + 1, max_s + 1)",
        "for n in sorted(best)",
    ),
    Break(
        P + "test_4_4_the_new_primary_computes_o_from_v_with_null_requests_for_gaps",
        f"{REPLICA}._new_view",
        "self.next_seq = plan.max_s + 1",
        "self.next_seq = plan.min_s + 1",
    ),
    Break(
        P + "test_4_4_a_backup_accepts_a_new_view_whose_o_it_recomputes",
        f"{REPLICA}._accept_new_view",
        "if slot not in self.log.accepted and self._in_window(pp.body.seq):",
        "if False:",
    ),
    Break(
        P + "test_4_4_o_prevails_over_a_pre_prepare_of_the_new_view_that_came_before_it",
        f"{REPLICA}._accept_new_view",
        "self.log.pre_prepares[slot] = pp",
        "pass",
    ),
    Break(
        P + "test_4_4_a_backup_refuses_a_new_view_whose_o_is_not_what_v_implies",
        f"{VIEWCHANGE}:check_new_view",
        "if got != wanted:",
        "if False:",
    ),
    Break(
        P + "test_4_4_a_backup_refuses_a_new_view_whose_o_is_not_what_v_implies",
        f"{VIEWCHANGE}:check_new_view",
        "if got != wanted:",
        "if len(got) != len(wanted):",
    ),
    Break(
        P + "test_4_4_a_new_view_needs_2f_plus_1_view_changes_and_the_new_primary",
        f"{VIEWCHANGE}:check_new_view",
        "if not quorum.reaches(signers, config.quorum) or len(signers) != len(nv.view_changes):",
        "if len(signers) != len(nv.view_changes):",
    ),
    Break(
        P + "test_4_4_a_new_view_needs_2f_plus_1_view_changes_and_the_new_primary",
        f"{REPLICA}._on_new_view",
        "if m.signer != self.config.primary(nv.view):",
        "if False:",
    ),
    Break(
        P + "test_4_4_a_view_change_message_with_a_bad_prepared_certificate_is_refused",
        f"{VIEWCHANGE}:check_prepared",
        "if len(signers) < prepares_needed(config):",
        "if not signers:",
    ),
    Break(
        P + "test_4_4_a_view_change_message_with_a_bad_prepared_certificate_is_refused",
        f"{VIEWCHANGE}:check_prepared",
        "if not _signed(p, Prepare) or not verify(p) or p.signer != p.body.src:",
        "if not _signed(p, Prepare) or p.signer != p.body.src:",
    ),
    Break(
        P + "test_4_4_a_new_view_never_moves_the_stable_checkpoint_back",
        f"{REPLICA}._adopt",
        "if seq <= self.stable and (",
        "if seq < 0 and (",
    ),
    Break(
        P + "test_4_4_a_state_transfer_takes_only_the_state_the_signed_digest_names",
        f"{REPLICA}._can_adopt",
        "if history is not None and state_matches(history, seq, digest):",
        "if history is not None and len(history) == seq:",
    ),
    Break(
        P + "test_4_4_the_new_primary_computes_o_from_v_with_null_requests_for_gaps",
        f"{VIEWCHANGE}:plan_new_view",
        "held = best.get(proof.seq)",
        "held = None",
    ),
    Break(
        P + "test_4_4_the_new_view_holds_2f_plus_1_view_changes_of_replicas_not_quarantined",
        f"{REPLICA}._view_changes_heard",
        "return {s: held[s] for s in sorted(held) if not self.audit.is_quarantined(s)}",
        "return {s: held[s] for s in sorted(held)}",
    ),
    Break(
        P + "test_4_4_a_new_view_names_2f_plus_1_view_changes_when_it_heard_more",
        f"{REPLICA}._new_view_quorum",
        "others = [held[s] for s in held if s != self.id][: self.config.quorum - 1]",
        "others = [held[s] for s in held if s != self.id]",
    ),
    Break(
        P + "test_4_4_a_new_view_for_an_earlier_view_or_again_for_its_view_changes_nothing",
        f"{REPLICA}._on_new_view",
        "if stale or (nv.view == self.view and self.status == NORMAL):",
        "if stale and (nv.view == self.view and self.status == NORMAL):",
    ),
    Break(
        P + "test_4_4_a_new_view_for_an_earlier_view_or_again_for_its_view_changes_nothing",
        f"{REPLICA}._on_new_view",
        "if stale or (nv.view == self.view and self.status == NORMAL):",
        "if stale:",
    ),
    Break(
        P + "test_4_4_a_backup_that_executed_up_to_min_s_adopts_it_without_a_state_transfer",
        f"{REPLICA}._can_adopt",
        "if seq <= self.stable or seq <= len(self.executed) or (seq, digest) in self._states:",
        "if seq <= self.stable or seq < len(self.executed) or (seq, digest) in self._states:",
    ),
    Break(
        P + "test_4_3_a_state_transfer_settles_the_requests_it_executed_and_keeps_the_others",
        f"{REPLICA}._install",
        "for key in [k for k in self.pending if k in self.results]:",
        "for key in [k for k in self.pending if k not in self.results]:",
    ),
    Break(
        P + "test_4_3_a_state_transfer_settles_the_requests_it_executed_and_keeps_the_others",
        f"{REPLICA}._install",
        "self._stop_request_timer(key)",
        "self._stop_request_timer(None)  # type: ignore[arg-type]",
    ),
    Break(
        P + "test_4_3_a_state_transfer_settles_the_requests_it_executed_and_keeps_the_others",
        f"{REPLICA}._install",
        "self.history_epoch = next(_epochs)",
        "self.history_epoch = None",
    ),
    Break(
        P + "test_4_4_f_plus_1_view_changes_for_a_later_view_make_a_replica_follow",
        f"{REPLICA}._due",
        "if quorum.reaches(beyond, quorum.one_correct(self.config.f)):",
        "if quorum.reaches(beyond, self.config.quorum):",
    ),
    # -- PBFT, section 4.5.2: liveness
    Break(
        P + "test_4_5_2_the_view_change_timeout_doubles_until_a_request_executes",
        f"{REPLICA}._timeout",
        "doubled: int = base << min(max(doublings, 0), cap.bit_length())",
        "doubled: int = base",
    ),
    Break(
        P + "test_4_5_2_the_view_change_timeout_doubles_until_a_request_executes",
        f"{REPLICA}._execute",
        "self.vc_attempts = 0  # progress: the view-change timeout starts from its base again",
        "pass",
    ),
)

# The catalogue mutant -> the rule test it fails (the rule the mutant breaks).
CATALOGUE: dict[str, str] = {
    raft_mutants.COMMIT_PREVIOUS_TERM: R
    + "test_leaders_commit_only_entries_of_their_term_by_counting",
    raft_mutants.VOTE_WITHOUT_LOG_CHECK: (
        R + "test_request_vote_rule_2_candidate_log_at_least_as_up_to_date"
    ),
    raft_mutants.FORGET_VOTED_FOR: R + "test_request_vote_voted_for_is_persistent",
    raft_mutants.TRUNCATE_ON_STALE_APPEND: (
        R + "test_append_entries_rule_4_append_new_entries_and_keep_a_matching_suffix"
    ),
    raft_mutants.LEADER_IGNORES_HIGHER_TERM: (
        R + "test_all_servers_adopt_a_higher_term_and_become_followers"
    ),
    raft_mutants.BACKUP_ONE_AT_A_TIME: (
        R + "test_leaders_skip_back_to_the_followers_hint_in_one_round_trip"
    ),
    raft_mutants.BACKUP_PAST_CONFLICT: (
        R + "test_leaders_skip_back_to_the_followers_hint_in_one_round_trip"
    ),
    raft_mutants.ABANDON_AS_REJECTED: (
        R + "test_a_deposed_leader_answers_its_pending_writes_outcome_unknown"
    ),
    raft_mutants.INSTALL_STALE_SNAPSHOT: (
        R + "test_install_snapshot_discards_a_snapshot_older_than_the_commit_index"
    ),
    raft_mutants.REPROPOSE_UNCOMMITTED: R + "test_leaders_replicate_from_next_index",
    raft_mutants.DEPOSED_LEADER_KEEPS_SUFFIX: (
        R + "test_append_entries_rule_3_holds_for_a_leader_that_append_deposes"
    ),
    raft_mutants.READ_WITHOUT_QUORUM: (
        R + "test_read_index_step_3_needs_a_majority_acknowledging_this_round"
    ),
    raft_mutants.PENDING_WRITES_OUTLIVE_RESTART: R
    + "test_a_restarted_server_owes_no_client_an_answer",
    pbft_mutants.CHECKPOINT_STATE_BLAMES_SIGNER: (
        P + "test_4_3_a_checkpoints_state_is_not_signed_so_a_changed_one_blames_the_relayer"
    ),
    pbft_mutants.VIEW_CHANGE_BLAMES_SIGNER: (
        P + "test_4_4_a_view_change_relayed_with_another_batch_blames_the_relayer"
    ),
    pbft_mutants.RELAYED_BATCH_NOT_CHECKED: (
        P + "test_4_2_a_pre_prepare_whose_batch_does_not_match_its_digest_is_refused"
    ),
    pbft_mutants.PREPARE_QUORUM_2F: (
        P + "test_4_2_prepared_needs_the_pre_prepare_and_2f_matching_prepares_of_backups"
    ),
    pbft_mutants.NEW_VIEW_IGNORES_PREPARED: (
        P + "test_4_4_the_new_primary_computes_o_from_v_with_null_requests_for_gaps"
    ),
    pbft_mutants.COMMIT_WITHOUT_COMMIT_PHASE: (
        P + "test_4_2_committed_local_needs_2f_plus_1_matching_commits"
    ),
    pbft_mutants.PREPREPARE_FROM_NON_PRIMARY: (
        P + "test_4_2_a_pre_prepare_not_from_the_primary_is_refused"
    ),
    pbft_mutants.SIGNATURES_NOT_CHECKED: P
    + "test_4_2_a_pre_prepare_with_a_bad_signature_is_refused",
    pbft_mutants.CHECKPOINT_STABLE_ON_F_PLUS_1: (
        P + "test_4_3_a_checkpoint_is_stable_with_2f_plus_1_matching_proofs"
    ),
    pbft_mutants.EXECUTE_AGAIN: P + "test_4_1_a_request_ordered_again_is_not_executed_again",
    pbft_mutants.PREPARED_COUNTS_PRIMARY: (
        P + "test_4_4_a_carried_prepared_certificate_counts_backups_prepares_only"
    ),
    pbft_mutants.QUORUM_2F_PLUS_1_AT_ANY_N: (
        P + "test_3_a_quorum_of_n_replicas_is_ceil_n_plus_f_plus_1_over_2"
    ),
    pbft_mutants.PREPARES_2F_AT_ANY_N: (
        P + "test_3_a_quorum_of_n_replicas_is_ceil_n_plus_f_plus_1_over_2"
    ),
    pbft_mutants.CLIENT_TIMESTAMP_RESET: P
    + "test_4_1_a_restarted_client_does_not_reuse_a_timestamp",
    pbft_mutants.CLIENT_VIEW_FROM_ONE_REPLY: P
    + "test_4_1_the_client_follows_the_view_f_plus_1_replies_name",
    pbft_mutants.CLIENT_ACCEPTS_ON_F_REPLIES: P
    + "test_4_1_the_client_accepts_on_f_plus_1_matching_replies",
    pbft_mutants.CLIENT_REPLY_SIGNATURE_NOT_CHECKED: P
    + "test_4_1_the_client_accepts_on_f_plus_1_matching_replies",
    pbft_mutants.CLIENT_REPLY_REQUEST_NOT_MATCHED: P
    + "test_4_1_the_client_counts_a_reply_for_the_request_it_names",
    raft_mutants.PENDING_WRITES_PERSISTED: R
    + "test_a_restarted_leader_answers_none_of_the_writes_it_held",
    raft_mutants.STALE_MATCH_INDEX: R + "test_leaders_update_next_and_match_index_on_success",
    raft_mutants.COMMIT_INDEX_LOWERED: (
        R + "test_append_entries_rule_5_commit_up_to_min_of_leader_commit_and_last_new_entry"
    ),
    raft_mutants.MATCH_PAST_LAST: (
        R + "test_append_entries_rule_4_append_new_entries_and_keep_a_matching_suffix"
    ),
    raft_mutants.BACKUP_BELOW_MATCH: (
        R + "test_leaders_skip_back_to_the_followers_hint_in_one_round_trip"
    ),
    raft_mutants.COMMIT_STOPS_AT_OLDER_TERM: (
        R + "test_leaders_commit_only_entries_of_their_term_by_counting"
    ),
    raft_mutants.QUORUM_HALF_AT_EVEN_N: (
        R + "test_candidates_need_more_than_half_the_votes_at_even_sizes"
    ),
    pbft_mutants.STALE_NEW_VIEW_ACCEPTED: (
        P + "test_4_4_a_new_view_for_an_earlier_view_or_again_for_its_view_changes_nothing"
    ),
    pbft_mutants.STABLE_CHECKPOINT_MOVES_BACK: (
        P + "test_4_4_a_new_view_never_moves_the_stable_checkpoint_back"
    ),
    pbft_mutants.VIEW_CHANGE_TIMEOUT_RESET_ON_NEW_VIEW: (
        P + "test_4_5_2_the_view_change_timeout_doubles_until_a_request_executes"
    ),
    pbft_mutants.LAGGING_REPLICA_WAITS_FOR_VIEW_CHANGE: (
        P + "test_4_3_a_replica_behind_is_sent_the_checkpoints_with_their_state_on_its_status"
    ),
    raft_mutants.PROBE_STAYS_ONE_ENTRY: R
    + "test_leaders_decrement_next_index_and_retry_on_failure",
    raft_mutants.READ_REDIRECT_WITHOUT_LEADER: (
        R + "test_a_follower_names_the_leader_it_follows_to_a_read"
    ),
}


# -- running a rule test directly ---------------------------------------------------------------------


def rule_test(name: str) -> Callable[..., None]:
    protocol, function = name.split(":")
    test: Callable[..., None] = getattr(RULE_MODULES[protocol], function)
    return test


def cases(test: Callable[..., None]) -> list[dict[str, Any]]:
    """The keyword arguments of each case of a (maybe parametrized) test."""
    marks = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
    grids: list[list[dict[str, Any]]] = []
    for mark in marks:
        names, values = mark.args[0], mark.args[1]
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        grids.append(
            [
                dict(zip(names, v if len(names) > 1 else (v,), strict=True))
                for v in (p.values if hasattr(p, "values") else p for p in values)
            ]
        )
    return [
        {k: v for part in combo for k, v in part.items()} for combo in itertools.product(*grids)
    ]


def failures(test: Callable[..., None]) -> list[str]:
    """Run every case of `test`; the cases that failed an assertion (another exception is raised:
    a broken core should fail a rule's assertion, not crash the test)."""
    failed = []
    for kwargs in cases(test):
        try:
            test(**kwargs)
        except AssertionError:
            failed.append(repr(kwargs))
    return failed


# -- breaking one line of the core ------------------------------------------------------------------


def _resolve(where: str) -> tuple[Any, str, FunctionType, ModuleType]:
    module_name, qualname = where.split(":")
    module = importlib.import_module(module_name)
    *path, name = qualname.split(".")
    owner: Any = module
    for part in path:
        owner = getattr(owner, part)
    original = owner.__dict__[name] if path else getattr(module, name)
    assert isinstance(original, FunctionType), f"{where} is not a plain function"
    return owner, name, original, module


@contextmanager
def broken(brk: Break) -> Iterator[None]:
    """The core with `brk.old` changed to `brk.new` in its one function, for the block's duration."""
    assert "\n" not in brk.old and "\n" not in brk.new, "a break changes one line"
    owner, name, original, module = _resolve(brk.where)
    source = textwrap.dedent(inspect.getsource(original))
    assert source.count(brk.old) == 1, f"{brk.old!r} is not exactly once in {brk.where}"
    lines = [line for line in source.splitlines() if brk.old in line]
    assert len(lines) == 1
    new_line = lines[0].replace(brk.old, brk.new)
    source = source.replace(lines[0], new_line)
    code = compile(
        source,
        f"<{brk.where} broken>",
        "exec",
        flags=__future__.annotations.compiler_flag,
        dont_inherit=True,
    )
    namespace: dict[str, Any] = {}
    exec(code, module.__dict__, namespace)  # the core's own source, one line changed
    replacement = namespace[name]
    holders: list[tuple[Any, str]] = [(owner, name)]
    if owner is module:  # a module-level function: every module that imported it by name
        holders += [
            (m, attr)
            for m in list(sys.modules.values())
            if m is not None and m is not module and m.__name__.startswith("meshcheck.")
            for attr, value in list(vars(m).items())
            if value is original
        ]
    try:
        for holder, attr in holders:
            setattr(holder, attr, replacement)
        yield
    finally:
        for holder, attr in holders:
            setattr(holder, attr, original)


def rule_tests() -> list[str]:
    return [
        f"{protocol}:{name}"
        for protocol, module in RULE_MODULES.items()
        for name, value in vars(module).items()
        if name.startswith("test_") and callable(value)
    ]


# -- the checks -----------------------------------------------------------------------------------------


def test_every_rule_test_has_a_one_line_break_of_its_rule() -> None:
    covered = {b.test for b in BREAKS}
    assert sorted(set(rule_tests()) - covered) == []
    assert sorted(covered - set(rule_tests())) == []  # no break names a test that is gone


@pytest.mark.parametrize("brk", BREAKS, ids=[b.id for b in BREAKS])
def test_a_rule_broken_in_one_line_fails_its_test(brk: Break) -> None:
    test = rule_test(brk.test)
    assert failures(test) == [], "the rule test fails on the correct core"
    with broken(brk):
        failed = failures(test)
    assert failed, f"{brk.test} passes with {brk.where}: {brk.old!r} -> {brk.new!r}"


def test_every_catalogue_mutant_has_a_rule_test() -> None:
    assert sorted(CATALOGUE) == sorted({*raft_mutants.BUGS, *pbft_mutants.BUGS})


@pytest.mark.parametrize("mutant", sorted(CATALOGUE))
def test_every_catalogue_mutant_fails_its_rule_test_in_well_under_a_second(
    mutant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = CATALOGUE[mutant]
    protocol = name.split(":")[0]
    test = rule_test(name)
    assert failures(test) == [], "the rule test fails on the correct core"
    monkeypatch.setattr(RULE_MODULES[protocol], "BUGS_UNDER_TEST", frozenset({mutant}))
    start = time.perf_counter()
    failed = failures(test)
    elapsed = time.perf_counter() - start
    assert failed, f"catalogue mutant {mutant} passes {name}"
    assert elapsed < 1.0, f"{mutant} took {elapsed:.2f} s to fail {name}"
