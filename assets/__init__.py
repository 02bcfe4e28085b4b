"""Files Hanpyo ships: the Korean font, the translations, the sample election.

Installed from the wheel this directory is the package ``hanpyo_assets``; see
``kiosk/assets.py`` for how the program finds it.
"""
