"""The layers that isolate a session process; stdlib only, loaded by path inside the zygote."""
