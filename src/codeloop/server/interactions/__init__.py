"""Stored interactions (the Interactions API): their records, the runs that fill them, their interpreters.

    InteractionStore   the records, each its owner's (the API key that made it); caps and expiry
    └── Record         one interaction: its request, steps, status, and the EventLog of its stream
        ├── previous   the Record it continues: the conversation is the chain of their steps
        └── Thread     the interpreter a conversation shares, opened at its first code block and
                       closed with the last stored Record that holds it

A run (runs.py) drives the loop for one Record as a task: a background one outlives its request;
a foreground one ends with its client. Either can be cancelled; both write their stream's events
to the Record's EventLog, which a GET can replay and follow.
"""
