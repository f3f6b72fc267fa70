"""`firebreak demo`: the whole loop on one machine — a simulated fleet, real Prometheus and
Alertmanager, Firebreak on embedded defaults, a fault, its diagnosis, remediation and postmortem."""
