"""AWS CDK app for the Custom Labels sync pipeline (bucket, functions, state machine, topic)."""
