"""The kiosk's flow without Qt: the voter visit and the staff actions as pure steps."""
