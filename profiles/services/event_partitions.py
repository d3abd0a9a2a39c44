"""The behaviour events' monthly partitions (profiles.models.BehaviourEvent), kept for
BEHAVIOUR_EVENT_RETENTION_DAYS by the nightly job (Celery beat `profiles.event_partitions`,
`manage.py behaviour_event_partitions`). The partitioning itself is crm.partitions."""

from crm.partitions import MonthlyPartitions

EVENTS = MonthlyPartitions(
    parent="profiles_behaviourevent",
    retention_setting="BEHAVIOUR_EVENT_RETENTION_DAYS",
    job_name="profiles.event_partitions",
)
