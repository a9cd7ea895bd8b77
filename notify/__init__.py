"""Telling people and systems what happened: webhooks, live push, and (soon) notifications by email, SMS, WeChat
and in the app. Reads the committed event log; never changes an order, a pickup or money."""
