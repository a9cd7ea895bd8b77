"""The delivery promise: which windows the fleet can still serve, and an order's place in the day taken when it is
placed (issue 27).

A *tentative plan* per depot and day is grown by cheapest feasible insertion (routing.insertion, on the planner's
own rules) from the orders already taken, and kept from one request to the next so that each new order is inserted
into the routes as they were. It is never shown to the dispatcher and never published: the published plan stays
the dispatcher's.
"""
