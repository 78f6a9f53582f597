"""Fills engine/web/locale/{zh,ru}/LC_MESSAGES/messages.po from the extracted template.

Workflow: pybabel extract -F babel.cfg -k _ -k gettext -o engine/web/locale/messages.pot .
then add any new message to TRANSLATIONS below and run: python tools/translations.py
A message without a translation is reported, so nothing untranslated ships unnoticed.
"""
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent / "engine" / "web" / "locale"
# titles of errors that reach screens from code (engine.errors and the server)
EXTRA = ["Bad request", "Not signed in", "Not allowed", "Not found", "Conflict", "Request too large", "Invalid input", "Too many attempts",
         "Method not allowed", "Something went wrong", "Error", "Due %(when)s"]

TRANSLATIONS = {
    "You cannot move it from %(here)s to %(there)s.": ("不能从“%(here)s”移到“%(there)s”。", "Нельзя перевести из «%(here)s» в «%(there)s»."),
    "'%(transition)s' needs more from you; open the record to give it.": ("“%(transition)s”还需要您填写信息，请打开记录填写。", "Для «%(transition)s» нужны данные; откройте запись и укажите их."),
    "Overdue": ("已逾期", "Просрочено"), "At risk": ("有逾期风险", "Под угрозой"), "Due %(when)s": ("截止 %(when)s", "Срок: %(when)s"),
    "approved": ("已同意", "одобрено"), "rejected": ("已驳回", "отклонено"),
    "gave the %(role)s opinion: %(decision)s": ("给出%(role)s意见：%(decision)s", "дал(а) заключение «%(role)s»: %(decision)s"),
    "passed the record to the owner's manager (deadline missed)": ("已将记录转交负责人的上级（已超期）", "передал(а) запись руководителю владельца (срок пропущен)"),
    "Board": ("看板", "Доска"), "List": ("列表", "Список"),
    "Drag a card to another column to move it, or use its “Move to” menu. A move you may not make snaps back and says why.": (
        "把卡片拖到另一列即可推进，或使用卡片上的“移到”菜单。不允许的移动会退回原处并说明原因。",
        "Перетащите карточку в другую колонку или выберите «Перевести в». Недопустимый переход вернёт карточку на место с объяснением."),
    "Move to": ("移到", "Перевести в"), "Move": ("移动", "Перевести"), "All in the list": ("在列表中查看全部", "Все в списке"),
    "Waiting for your review": ("等待您评审", "Ждут вашего заключения"), "Notifications": ("通知", "Уведомления"),
    "Mark all as read": ("全部标为已读", "Отметить все как прочитанные"), "Department review": ("部门评审", "Согласование отделов"),
    "Review": ("评审", "Согласование"), "round %(n)s": ("第 %(n)s 轮", "круг %(n)s"), "waiting for %(n)s": ("等待 %(n)s 个", "ожидается: %(n)s"),
    "not completed": ("未完成", "не завершено"), "Department": ("部门", "Отдел"), "Opinion": ("意见", "Заключение"), "By": ("评审人", "Кто"),
    "Approved": ("同意", "Одобрено"), "Rejected": ("驳回", "Отклонено"), "Waiting": ("待评审", "Ожидает"), "Not needed": ("无需评审", "Не требуется"),
    "Closed": ("已关闭", "Закрыто"), "Your opinion as %(role)s": ("您作为%(role)s的意见", "Ваше заключение («%(role)s»)"),
    "Delivery, feasibility, price, payment terms...": ("交期、可行性、价格、付款条件……", "Сроки, выполнимость, цена, условия оплаты..."),
    "Approve": ("同意", "Одобрить"), "Reject": ("驳回", "Отклонить"),
    "Tick the records to apply it to, then try again.": ("请勾选要处理的记录后重试。", "Отметьте записи, к которым это применить, и повторите."),
    "%(moved)s of %(total)s done.": ("已完成 %(moved)s / %(total)s。", "Выполнено: %(moved)s из %(total)s."),
    "Result": ("结果", "Результат"), "Done": ("完成", "Выполнено"), "Not done": ("未完成", "Не выполнено"),
    "Back to the list": ("返回列表", "К списку"), "With the selected records": ("对所选记录", "С отмеченными записями"),
    "Reason or comment": ("原因或备注", "Причина или комментарий"), "Select": ("选择", "Выбрать"),
    "These lines cannot be changed now.": ("这些明细现在不能修改。", "Эти строки сейчас нельзя изменить."),
    "%(transition)s: %(from)s → %(to)s": ("%(transition)s：%(from)s → %(to)s", "%(transition)s: %(from)s → %(to)s"),
    "commented: “%(comment)s”": ("备注：“%(comment)s”", "прокомментировал(а): «%(comment)s»"),
    "Workflow": ("流程", "Процесс"), "Comment (optional)": ("备注（可选）", "Комментарий (необязательно)"),
    "This record is closed: it can no longer change.": ("此记录已关闭，不能再修改。", "Запись закрыта: её больше нельзя изменить."),
    "after %(time)s in %(state)s": ("在“%(state)s”停留 %(time)s 后", "после %(time)s в состоянии «%(state)s»"),
    "API tokens": ("API 令牌", "API-токены"), "Label": ("标签", "Метка"), "Created": ("创建时间", "Создан"),
    "Revoke token %(label)s": ("吊销令牌 %(label)s", "Отозвать токен %(label)s"), "Revoke": ("吊销", "Отозвать"),
    "You have no API tokens.": ("您没有 API 令牌。", "У вас нет API-токенов."),
    "Label of a new token (what it is for)": ("新令牌的标签（用途）", "Метка нового токена (для чего он)"),
    "Create token": ("创建令牌", "Создать токен"), "The token was revoked.": ("令牌已吊销。", "Токен отозван."),
    "Your new API token. Copy it now: it is shown only this once.": ("您的新 API 令牌。请立即复制：它只显示这一次。", "Ваш новый API-токен. Скопируйте его сейчас: он показывается только один раз."),
    "API token": ("API 令牌", "API-токен"),
    "Too many failed sign-ins. Try again in %(minutes)s minutes.": ("登录失败次数过多，请 %(minutes)s 分钟后再试。", "Слишком много неудачных попыток входа. Повторите через %(minutes)s мин."),
    "Too many attempts": ("尝试次数过多", "Слишком много попыток"), "Settings": ("设置", "Настройки"), "My account": ("我的账户", "Мой профиль"), "Export": ("导出", "Экспорт"),
    "Your password was changed.": ("您的密码已修改。", "Пароль изменён."), "Your language was saved.": ("语言已保存。", "Язык сохранён."),
    "Language of the screens": ("界面语言", "Язык интерфейса"), "As my browser asks": ("跟随浏览器", "Как в браузере"),
    "Change password": ("修改密码", "Сменить пароль"), "Current password": ("当前密码", "Текущий пароль"), "New password": ("新密码", "Новый пароль"),
    "Explain a permission": ("权限说明", "Проверка прав"), "User": ("用户", "Пользователь"), "Entity": ("对象", "Объект"),
    "Action": ("操作", "Действие"), "Record id (optional)": ("记录编号（可选）", "Номер записи (необязательно)"), "Explain": ("说明", "Проверить"),
    "Allowed": ("允许", "Разрешено"), "Denied": ("拒绝", "Запрещено"), "Decided by": ("决定规则", "Решило правило"), "Rule": ("规则", "Правило"),
    "Where": ("位置", "Где"), "Applies": ("适用", "Применяется"), "yes": ("是", "да"), "no": ("否", "нет"),
    "Hidden fields:": ("隐藏字段：", "Скрытые поля:"), "Read-only fields:": ("只读字段：", "Поля только для чтения:"),
    "Users": ("用户", "Пользователи"), "Roles": ("角色", "Роли"),
    "This app has no roles.yaml: every user may do everything.": ("此应用没有 roles.yaml：每个用户都可执行所有操作。", "В приложении нет roles.yaml: любому пользователю разрешено всё."),
    "Role": ("角色", "Роль"), "Show": ("显示", "Показать"), "Inherits:": ("继承：", "Наследует:"), "Administers users.": ("可管理用户。", "Управляет пользователями."),
    "Field rules": ("字段规则", "Правила полей"), "New user": ("新建用户", "Новый пользователь"), "Saved.": ("已保存。", "Сохранено."),
    "The password was reset.": ("密码已重置。", "Пароль сброшен."), "Please correct the fields marked below.": ("请修正下方标出的字段。", "Исправьте отмеченные ниже поля."),
    "Name": ("姓名", "Имя"), "Manager": ("上级", "Руководитель"), "None": ("无", "Нет"),
    "Active: may sign in and use API tokens": ("启用：可登录并使用 API 令牌", "Активен: может входить и пользоваться API-токенами"),
    "Reset password": ("重置密码", "Сбросить пароль"), "Status": ("状态", "Статус"), "Active": ("启用", "Активен"), "Deactivated": ("已停用", "Отключён"),
    "Yes": ("是", "Да"), "No": ("否", "Нет"),
    "created this record": ("创建了此记录", "создал(а) запись"),
    "deleted this record": ("删除了此记录", "удалил(а) запись"),
    "changed %(field)s from “%(old)s” to “%(new)s”": ("将%(field)s从“%(old)s”改为“%(new)s”", "изменил(а) «%(field)s»: «%(old)s» → «%(new)s»"),
    "added a line: %(line)s": ("添加了一行：%(line)s", "добавил(а) строку: %(line)s"),
    "removed a line: %(line)s": ("删除了一行：%(line)s", "удалил(а) строку: %(line)s"),
    "changed %(field)s on a line from “%(old)s” to “%(new)s”": ("将一行的%(field)s从“%(old)s”改为“%(new)s”", "изменил(а) в строке «%(field)s»: «%(old)s» → «%(new)s»"),
    "Wrong username or password.": ("用户名或密码错误。", "Неверное имя пользователя или пароль."),
    "assigned when saved": ("保存时自动生成", "присваивается при сохранении"),
    "Type to search": ("输入以搜索", "Начните вводить для поиска"),
    "Skip to content": ("跳到正文", "Перейти к содержимому"),
    "Main menu": ("主菜单", "Главное меню"), "Language": ("语言", "Язык"), "Change": ("切换", "Сменить"),
    "Sign out": ("退出", "Выйти"), "Request id": ("请求编号", "Номер запроса"),
    "Back to the start page": ("返回首页", "На главную"), "Edit": ("编辑", "Изменить"), "New": ("新建", "Создать"),
    "Breadcrumb": ("导航路径", "Навигация"), "Edit %(thing)s": ("编辑%(thing)s", "Изменить: %(thing)s"),
    "New %(thing)s": ("新建%(thing)s", "Создать: %(thing)s"),
    "Someone else changed this record while you were editing it.": ("在您编辑期间，其他人修改了此记录。", "Пока вы редактировали запись, её изменил другой пользователь."),
    "Your changes are still in the form below and have not been saved.": ("您的修改仍保留在下方表单中，尚未保存。", "Ваши изменения остались в форме ниже и ещё не сохранены."),
    "Their version differs from yours in:": ("对方版本与您的不同之处：", "Их версия отличается от вашей в полях:"),
    "theirs": ("对方的值", "у них"),
    "Check the fields, then save again to apply your version on top of theirs, or open the record to discard yours.": (
        "请检查这些字段，再次保存即以您的版本覆盖对方的修改；或打开记录放弃您的修改。",
        "Проверьте поля и сохраните ещё раз, чтобы применить свою версию поверх их изменений, или откройте запись, чтобы отказаться от своих."),
    "Please correct the marked fields (%(n)s).": ("请更正标出的字段（%(n)s 处）。", "Исправьте отмеченные поля (%(n)s)."),
    "Actions": ("操作", "Действия"), "Move up": ("上移", "Выше"), "Move down": ("下移", "Ниже"),
    "Remove line": ("删除行", "Удалить строку"), "Add line": ("添加行", "Добавить строку"),
    "Save": ("保存", "Сохранить"), "Cancel": ("取消", "Отмена"),
    "Hello, %(name)s": ("您好，%(name)s", "Здравствуйте, %(name)s"), "Open list": ("打开列表", "Открыть список"),
    "Recently changed by you": ("您最近修改的", "Недавно изменённые вами"),
    "Nothing yet. Records you create or own appear here.": ("暂无内容。您创建或负责的记录会显示在这里。", "Пока пусто. Здесь появятся записи, которые вы создали или ведёте."),
    "Search": ("搜索", "Поиск"), "Any": ("全部", "Любой"), "from": ("从", "с"), "to": ("到", "по"),
    "Apply": ("应用", "Применить"), "Clear": ("清除", "Сбросить"),
    "Some filters could not be used:": ("部分筛选条件无法使用：", "Некоторые фильтры не применены:"),
    "No matches": ("没有匹配项", "Ничего не найдено"), "1–%(shown)s of": ("第 1–%(shown)s 条，共", "1–%(shown)s из"),
    "count all": ("精确计数", "посчитать все"),
    "Nothing matches these filters.": ("没有符合筛选条件的记录。", "Нет записей, подходящих под фильтры."),
    "Clear the filters": ("清除筛选", "Сбросить фильтры"),
    "There are no %(things)s yet.": ("还没有%(things)s。", "Пока нет записей: %(things)s."),
    "Create the first one": ("创建第一条", "Создать первую"), "Show more": ("显示更多", "Показать ещё"),
    "Sign in": ("登录", "Вход"), "Username": ("用户名", "Имя пользователя"), "Password": ("密码", "Пароль"),
    "Copy": ("复制", "Копировать"), "Sections of this page": ("页面分区", "Разделы страницы"),
    "Details": ("详情", "Подробности"), "History": ("历史", "История"), "No lines.": ("没有明细行。", "Строк нет."),
    "Show all": ("显示全部", "Показать все"), "None yet.": ("暂无。", "Пока нет."),
    "Version %(v)s · last changed %(ago)s": ("版本 %(v)s · 最后修改于%(ago)s", "Версия %(v)s · изменено %(ago)s"),
    "Bad request": ("请求有误", "Неверный запрос"), "Not signed in": ("未登录", "Вход не выполнен"),
    "Not allowed": ("无权操作", "Нет доступа"), "Not found": ("未找到", "Не найдено"), "Conflict": ("冲突", "Конфликт"),
    "Request too large": ("请求过大", "Слишком большой запрос"), "Invalid input": ("输入有误", "Неверные данные"),
    "Method not allowed": ("不支持此操作", "Метод не поддерживается"), "Something went wrong": ("出错了", "Что-то пошло не так"),
    "Error": ("错误", "Ошибка"),
    "Date": ("日期", "Дата"), "No earlier values.": ("没有以往记录。", "Ранее значений не было."),
    "Close": ("关闭", "Закрыть"), "Earlier values of %(field)s": ("%(field)s的历史值", "Прежние значения: %(field)s"),
    "Earlier values": ("历史值", "Прежние значения"), "Saved filters": ("已保存的筛选", "Сохранённые фильтры"),
    "Delete saved filter %(name)s": ("删除已保存的筛选 %(name)s", "Удалить фильтр %(name)s"),
    "Name of this filter": ("筛选名称", "Название фильтра"), "Save filter": ("保存筛选", "Сохранить фильтр"),
    "Parts of the form": ("表单分页", "Разделы формы"), "contains": ("包含", "содержит"),
}


def main() -> int:
    with (ROOT / "messages.pot").open("rb") as f:
        template = read_po(f)
    ids = [m.id for m in template if m.id] + EXTRA
    missing = [i for i in ids if i not in TRANSLATIONS]
    for col, lang in enumerate(("zh", "ru")):
        cat = Catalog(locale=lang, project="order-engine", charset="utf-8")
        for mid in ids:
            if mid in TRANSLATIONS:
                cat.add(mid, TRANSLATIONS[mid][col])
        out = ROOT / lang / "LC_MESSAGES" / "messages.po"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as f:
            write_po(f, cat, width=120, omit_header=False)
    if missing:
        print("untranslated:", *missing, sep="\n  ")
        return 1
    print(f"{len(ids)} messages translated into zh and ru")
    return 0


if __name__ == "__main__":
    sys.exit(main())
