"""Client histories and their linearizability checker.

A history is what clients saw: each operation's invocation and completion (ok, fail, or info when
the client never learnt the outcome). `checker.check` decides whether a history is linearizable
against a sequential model (`models`), in the line of Wing and Gong's search ("Testing and verifying
concurrent objects", J. Parallel Distrib. Comput. 17, 1993) with Lowe's cache of visited
configurations ("Testing for linearizability", Concurrency and Computation 29, 2017) and Horn and
Kroening's P-compositionality (a history split by key is linearizable when every part is), as
anishathalye/porcupine does (checker.go, model.go). `jepsen` reads Jepsen's history shape.
"""
