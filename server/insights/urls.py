from django.urls import path, re_path

from server.insights import apis

urlpatterns = [
    path("sites/<int:site_id>/analytics/heatmap", apis.HeatmapApi.as_view(), name="analytics-heatmap"),
    path("sites/<int:site_id>/analytics/flow", apis.FlowApi.as_view(), name="analytics-flow"),
    path(
        "sites/<int:site_id>/analytics/distancing", apis.DistancingApi.as_view(), name="analytics-distancing"
    ),
    path("sites/<int:site_id>/analytics/visits", apis.VisitsApi.as_view(), name="analytics-visits"),
    path("sites/<int:site_id>/analytics/dwell", apis.DwellApi.as_view(), name="analytics-dwell"),
    path("sites/<int:site_id>/analytics/doors", apis.DoorsApi.as_view(), name="analytics-doors"),
    path("sites/<int:site_id>/analytics/queues", apis.QueuesApi.as_view(), name="analytics-queues"),
    # Integrator listings, with or without the trailing slash (as the router's paths).
    re_path(r"^sites/(?P<site_id>[0-9]+)/visits/?$", apis.VisitListApi.as_view(), name="site-visits"),
    re_path(
        r"^sites/(?P<site_id>[0-9]+)/persons/(?P<person_id>[0-9]+)/path/?$",
        apis.PersonPathApi.as_view(),
        name="person-path",
    ),
    path("sites/<int:site_id>/analytics/occupancy", apis.OccupancyApi.as_view(), name="analytics-occupancy"),
]
