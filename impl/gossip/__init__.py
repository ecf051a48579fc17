"""Gossip with phi-accrual failure detection: the status and health layer
(README.md, "Gossip: status and health, with phi-accrual failure detection")."""
