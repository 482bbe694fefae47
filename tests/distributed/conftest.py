# The process scripts run in child processes, not as test modules;
# importing them for doctests would run them.
collect_ignore = ["jax_data_parallel.py", "tf_multi_worker.py"]
