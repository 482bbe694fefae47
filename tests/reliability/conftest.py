# distributed_fit.py is a script run in child processes, not a test module;
# importing it for doctests would run it.
collect_ignore = ["distributed_fit.py"]
