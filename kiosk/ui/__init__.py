"""The touchscreen: QML screens and the Python objects they talk to."""
