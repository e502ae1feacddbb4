"""The job queue and its worker: the same code embedded (SQLite) and distributed (Redis).

- `queue`: the Huey instance built from QUEUE_URL, and the tasks Puente enqueues (by id only);
- `tasks`: the tasks themselves and the worker's periodic jobs (`PERIODIC_JOBS`);
- `worker`: `puente worker`, the consumer, with its heartbeat;
- `heartbeat`: when each worker was last seen, which `/healthz` and `make run` read.
"""

#: `puente worker`'s threads, by default: tasks mostly wait on the database and Twilio.
DEFAULT_THREADS = 4
