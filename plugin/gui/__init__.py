"""The plugin's own dialogs: settings, backend set-up, backend status. Only created from initGui()."""
