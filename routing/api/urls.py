from django.urls import path

from . import router_views, views

urlpatterns = [
    path("config/type", views.ConfigurationView.as_view()),
    path("config/type/services", views.ServiceTypeListView.as_view()),
    path("config/type/services/<str:service_type>", views.ServiceTypeDetailView.as_view()),
    path("config/type/reset", views.ResetView.as_view()),
    path("config/type/<str:service_type>/models", views.ServiceTypeModelsView.as_view()),
    path("config/instance/type/<str:service_type>", views.InstanceListView.as_view()),
    path("config/instance/info/<str:service_type>", views.InstanceInfoView.as_view()),
    path("config/instance/add/<str:service_type>", views.InstanceAddView.as_view()),
    path("config/instance/update/<str:service_type>", views.InstanceUpdateView.as_view()),
    path("config/instance/del/<str:service_type>", views.InstanceDeleteView.as_view()),
    path("models", views.ModelListView.as_view()),
    path("router/route", router_views.RouteView.as_view()),
    path("router/feedback", router_views.FeedbackView.as_view()),
]
