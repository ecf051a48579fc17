"""Gossip with phi-accrual failure detection: the status and health layer
(docs/gossip.md)."""
