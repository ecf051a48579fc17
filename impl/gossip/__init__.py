"""Gossip with phi-accrual failure detection: the status and health layer (issue 15)."""
