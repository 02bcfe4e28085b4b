"""The kiosk's encrypted, hash-chained local store on SQLCipher."""
