"""Receipt printers: the receipt, its rendering, the ESC/POS driver and an in-memory printer."""
