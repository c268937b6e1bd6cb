"""AWS CloudWatch alarms delivered by an Amazon SNS HTTPS subscription."""
