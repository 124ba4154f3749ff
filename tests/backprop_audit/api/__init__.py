"""The public API for users' own tests: assert_holds / check (one formula), assert_backprop /
check_backprop (a whole backprop), the networks strategy; backprop_audit/__init__.py exports them, and
backprop_audit/pytest_plugin.py makes pytest's Hypothesis options steer them."""
