"""Replicated SQL under meshcheck's transactional workloads: the client (client.py), the SQL each
workload runs (statements.py, transactions.py), and each database's driver (postgresql.py on
psycopg 3, mariadb.py on PyMySQL). docs/sql.md."""
