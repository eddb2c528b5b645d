"""Ray Serve application: student, teacher and canary/shadow router."""
