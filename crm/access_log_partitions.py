"""The access log's monthly partitions (crm.models.AccessLog), kept for ACCESS_LOG_RETENTION_DAYS
by the nightly job (`maintain_access_log_partitions`: Celery beat `crm.access_log_partitions`
and `manage.py access_log_partitions`). The partitioning itself is crm.partitions."""

from crm.partitions import MonthlyPartitions, month_start, next_month

ACCESS_LOG = MonthlyPartitions(
    parent="crm_accesslog",
    retention_setting="ACCESS_LOG_RETENTION_DAYS",
    job_name="crm.access_log_partitions",
)

PARENT = ACCESS_LOG.parent
DEFAULT_PARTITION = ACCESS_LOG.default_partition
JOB_NAME = ACCESS_LOG.job_name
partition_name = ACCESS_LOG.partition_name
monthly_partitions = ACCESS_LOG.monthly_partitions
create_partition = ACCESS_LOG.create_partition
ensure_partitions = ACCESS_LOG.ensure_partitions
drop_expired_partitions = ACCESS_LOG.drop_expired_partitions
estimated_rows = ACCESS_LOG.estimated_rows
maintain_access_log_partitions = ACCESS_LOG.maintain

__all__ = [
    "ACCESS_LOG",
    "DEFAULT_PARTITION",
    "JOB_NAME",
    "PARENT",
    "create_partition",
    "drop_expired_partitions",
    "ensure_partitions",
    "estimated_rows",
    "maintain_access_log_partitions",
    "month_start",
    "monthly_partitions",
    "next_month",
    "partition_name",
]
