"""Login, logout and the current user for the browser; API tokens for programs."""

from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from annotator.accounts.models import ApiToken, User
from annotator.accounts.selectors import list_tokens_for_user
from annotator.accounts.services import create_api_token, record_login, revoke_api_token
from annotator.core.errors import DomainError
from api.auth import request_user
from api.scoping import ScopedViewSet


class UserSerializer(serializers.ModelSerializer[User]):
    """The signed-in user."""

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "is_staff"]
        read_only_fields = fields


class UserRefSerializer(serializers.ModelSerializer[User]):
    """A user named inside another object."""

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name"]
        read_only_fields = fields


class LoginSerializer(serializers.Serializer[Any]):
    """Credentials for a browser session."""

    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )


class InvalidCredentialsError(DomainError):
    """The username and password do not match an active user."""

    code = "invalid_credentials"


@extend_schema(tags=["auth"])
class CsrfView(APIView):
    """Set the csrftoken cookie the browser app sends back in X-CSRFToken."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(responses={204: None})
    @method_decorator(ensure_csrf_cookie)
    def get(self, request: Request) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["auth"])
class LoginView(APIView):
    """Start a browser session (CSRF-protected, throttled per client address)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=LoginSerializer, responses={200: UserSerializer})
    @method_decorator(csrf_protect)
    def post(self, request: Request) -> Response:
        payload = LoginSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=payload.validated_data["username"],
            password=payload.validated_data["password"],
        )
        if not isinstance(user, User):
            raise InvalidCredentialsError("Wrong username or password.")
        login(request._request, user)
        record_login(user=user)
        return Response(UserSerializer(user).data)


@extend_schema(tags=["auth"])
class LogoutView(APIView):
    """End the browser session."""

    permission_classes = [AllowAny]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["auth"])
class MeView(APIView):
    """Who is signed in (401 when nobody)."""

    @extend_schema(responses={200: UserSerializer})
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request_user(request)).data)


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    """A token as listed: never its key."""

    active = serializers.SerializerMethodField()

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "active",
        ]
        read_only_fields = fields

    def get_active(self, token: ApiToken) -> bool:
        return token.revoked_at is None and (
            token.expires_at is None or token.expires_at > timezone.now()
        )


class IssuedTokenSerializer(ApiTokenSerializer):
    """A token just created, with its key (shown this once)."""

    key = serializers.CharField(read_only=True)

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer[Any]):
    """A name for the new token and an optional expiry."""

    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


@extend_schema(tags=["auth"])
class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ScopedViewSet[ApiToken],
):
    """The signed-in user's API tokens: list, create (key shown once), revoke (DELETE)."""

    queryset = ApiToken.objects.none()
    serializer_class = ApiTokenSerializer
    throttle_scope = "tokens"

    def get_throttles(self) -> list[Any]:
        if self.action == "create":
            return [ScopedRateThrottle()]
        return super().get_throttles()

    def scoped_queryset(self, user: User) -> QuerySet[ApiToken]:
        return list_tokens_for_user(user=user)

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: IssuedTokenSerializer})
    def create(self, request: Request) -> Response:
        payload = ApiTokenCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        issued = create_api_token(user=request_user(request), **payload.validated_data)
        data = dict(IssuedTokenSerializer(issued.token).data, key=issued.key)
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        revoke_api_token(token=self.get_object(), actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
