from django.urls import path

from server.insights import apis

urlpatterns = [
    path("sites/<int:site_id>/analytics/heatmap", apis.HeatmapApi.as_view(), name="analytics-heatmap"),
    path("sites/<int:site_id>/analytics/flow", apis.FlowApi.as_view(), name="analytics-flow"),
    path(
        "sites/<int:site_id>/analytics/distancing", apis.DistancingApi.as_view(), name="analytics-distancing"
    ),
    path("sites/<int:site_id>/analytics/visits", apis.VisitsApi.as_view(), name="analytics-visits"),
    path("sites/<int:site_id>/analytics/dwell", apis.DwellApi.as_view(), name="analytics-dwell"),
    path("sites/<int:site_id>/analytics/occupancy", apis.OccupancyApi.as_view(), name="analytics-occupancy"),
]
