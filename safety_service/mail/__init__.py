"""Mail: templates rendered to subject/text/html (render), routing rules (routing), the immediate-alert hook
(notify) and the SMTP sender (smtp). The outbox itself is safety_service/domain/outbox.py."""
